"""The error the user sees once DSPy has given up on an LM: which LM, how often it was tried, what to check."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dspy
from dspy.utils.exceptions import LMAuthError, LMError, LMNotConfiguredError, is_retryable_lm_error

from afirs_dspy.lm.errors import LMUnavailable


def _failed_lm(error: LMError, lms: Sequence[dspy.LM]) -> dspy.LM | None:
    # DSPy names the model as configured (native route) or as sent on the wire (LiteLLM route).
    for lm in lms:
        if error.model in (lm.model, lm.model.split("/", 1)[-1]):
            return lm
    return lms[0] if len(lms) == 1 else None


def explain_lm_failure(error: LMError, lms: Sequence[dspy.LM]) -> LMUnavailable | None:
    """An LMUnavailable for errors retries cannot fix any more (or credentials); None for the rest."""
    lm = _failed_lm(error, lms)
    api_base = lm.kwargs.get("api_base") if lm is not None else None
    where = f"{lm.model if lm is not None else error.model}" + (f" at {api_base}" if api_base else "")
    if is_retryable_lm_error(error):
        tries = f"{lm.num_retries + 1} attempts with backoff" if lm is not None else "DSPy's retries"
        check = f"that the server at {api_base} is running" if api_base else "the network and the provider's status"
        return LMUnavailable(f"LM {where} failed after {tries}: {error}\nCheck {check}.")
    if isinstance(error, (LMAuthError, LMNotConfiguredError)):
        return LMUnavailable(f"LM {where} has no valid credentials: {error}\n"
                             "Set the provider's API key variable (e.g. OPENAI_API_KEY) in the environment.")
    return None


@contextmanager
def lm_failures_explained(*lms: dspy.LM) -> Iterator[None]:
    """Around a run: an LM that is still failing after DSPy's retries raises LMUnavailable (from the original)."""
    try:
        yield
    except LMError as error:
        explained = explain_lm_failure(error, lms)
        if explained is None:
            raise
        raise explained from error
