"""Calling a predictor so that bad model output never crashes a session.

An output that fails to parse or to validate is retried once (with a fresh rollout, so the
cache does not replay it), then replaced by a documented fallback; each step is recorded. Output
that breaks the parser itself counts as unparsable: deep nesting (DSPy's JSON fallback raises
ValueError, its adapter RecursionError) and text that cannot be encoded (a lone surrogate).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dspy
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.lm.errors import LMSetupError
from afirs_dspy.programs.dialogue import valid_unicode

T = TypeVar("T")


class InvalidOutput(ValueError):
    """A parsed output that breaks the contract (an id outside the candidates, an empty list, ...)."""


def guarded_call(
    predictor: dspy.Module,
    validate: Callable[[dspy.Prediction], T],
    fallback: Callable[[], T],
    trace: list[dict],
    step: str,
    attempts: int = 2,
    **inputs,
) -> T:
    """Run ``predictor(**inputs)`` and ``validate`` its prediction; retry once (``attempts=1``: never,
    where the fallback is as good as a second full prompt), then fall back.

    Appends one event to ``trace``: ``{"step", "status": "ok"|"retried"|"fallback", "errors"}``.
    """
    errors: list[str] = []
    for attempt in range(attempts):
        try:
            retry = {"config": {"rollout_id": attempt, "temperature": 1.0}} if attempt else {}
            value = validate(predictor(**inputs, **retry))
        except LMSetupError:
            raise
        except (AdapterParseError, ValueError, RecursionError) as exc:  # InvalidOutput is a ValueError
            first_line = (str(exc).splitlines() or [""])[0]
            errors.append(f"{type(exc).__name__}: {first_line[:200]}")
            continue
        trace.append({"step": step, "status": "retried" if errors else "ok", "errors": errors})
        return value
    trace.append({"step": step, "status": "fallback", "errors": errors})
    return fallback()


def valid_numbers(numbers: list[int], count: int, limit: int | None = None) -> list[int]:
    """1-based picks into a list of ``count`` entries, as 0-based positions, repeats dropped.

    Raises InvalidOutput when a pick is out of range, so the caller retries.
    """
    bad = [n for n in numbers if not 1 <= n <= count]
    if bad:
        raise InvalidOutput(f"numbers {bad} are not among 1..{count}")
    positions = list(dict.fromkeys(n - 1 for n in numbers))
    return positions[:limit] if limit else positions


def non_empty(text: str) -> str:
    """Stripped ``text`` as valid Unicode; InvalidOutput when nothing is left."""
    if not text.strip():
        raise InvalidOutput("empty text")
    return valid_unicode(text).strip()


def ranked_picks(selected: list[int], candidates: list, k: int) -> list:
    """The LM's picks (1-based numbers into ``candidates``), then the candidates' own order to fill
    up to ``k``; InvalidOutput when it picks nothing usable."""
    picks = [candidates[p] for p in valid_numbers(selected, len(candidates), k)]
    if not picks:
        raise InvalidOutput("no candidate selected")
    return picks + [c for c in candidates if c not in picks][: k - len(picks)]
