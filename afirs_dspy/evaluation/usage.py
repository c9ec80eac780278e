"""Counting LM calls, tokens and time of one step, per thread.

DSPy 3.4.1 keeps ``dspy.context`` overrides in a context variable, so a callback and a usage tracker
installed inside a worker thread see only that thread's LM calls: sessions running in parallel are
metered separately. Calls are counted by a callback on every ``LM.__call__`` (cache hits included);
tokens come from ``dspy.track_usage``, which records only calls that reached the model.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dspy
from dspy.utils.callback import BaseCallback

from afirs_dspy.evaluation.records import Usage


class _CallCounter(BaseCallback):
    def __init__(self) -> None:
        self.calls = 0

    def on_lm_start(self, call_id, instance, inputs) -> None:
        self.calls += 1


def _tokens(usage_data: dict, name: str) -> int:
    return sum(int(entry.get(name) or 0) for entries in usage_data.values() for entry in entries)


@contextmanager
def metered() -> Iterator[Usage]:
    """``with metered() as usage: ...``; ``usage`` is filled in when the block exits (also on error)."""
    usage = Usage()
    counter = _CallCounter()
    start = time.perf_counter()
    with dspy.context(callbacks=[*dspy.settings.callbacks, counter]), dspy.track_usage() as tracker:
        try:
            yield usage
        finally:
            usage.seconds = time.perf_counter() - start
            usage.lm_calls = counter.calls
            usage.prompt_tokens = _tokens(tracker.usage_data, "prompt_tokens")
            usage.completion_tokens = _tokens(tracker.usage_data, "completion_tokens")
            usage.model_calls = sum(map(len, tracker.usage_data.values()))
