"""The error the user sees once DSPy has given up on an LM (which LM, how often it was tried, what to check),
and a one-token call that finds an unreachable LM before a run rather than during it."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dspy
from dspy.utils.exceptions import (LMAuthError, LMBillingError, LMError, LMInvalidRequestError, LMNotConfiguredError,
                                   LMRateLimitError, LMUnsupportedModelError, is_retryable_lm_error)

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


PROBE_TIMEOUT = 30  # seconds a reachable server has to answer the one-token call


def check_reachable(lm: dspy.LM) -> None:
    """One uncached one-token call without DSPy's retries; LMUnavailable (one line) when the LM cannot answer.

    A server that answers passes, even when it refuses the call's settings or asks to slow down.
    """
    api_base = lm.kwargs.get("api_base")
    where = lm.model + (f" at {api_base}" if api_base else "")
    try:
        lm.copy(num_retries=0)("Reply with OK.", max_tokens=1, cache=False, timeout=PROBE_TIMEOUT)
    except (LMAuthError, LMBillingError, LMNotConfiguredError) as error:
        raise LMUnavailable(f"LM {where} refused the credentials ({_first_line(error)}): set the provider's API "
                            "key variable (e.g. OPENAI_API_KEY)") from None
    except LMUnsupportedModelError as error:
        raise LMUnavailable(f"LM {where} does not know this model ({_first_line(error)})") from None
    except (LMRateLimitError, LMInvalidRequestError):
        return
    except LMError as error:
        check = f"that the server at {api_base} is running" if api_base else "the network and the provider's status"
        raise LMUnavailable(f"LM {where} did not answer a one-token test call ({_first_line(error)}); "
                            f"check {check}") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
