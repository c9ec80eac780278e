"""Saved llama.cpp KV states, looked up by the longest token prefix they share with a new prompt.

llama.cpp reuses its KV cache only for the prefix a prompt shares with the *previous* one; an AF-IRS turn
alternates about six signatures, so almost nothing is reused. Keeping the KV state of each recent prompt
(its system message, demos and stable leading fields) lets a call resume from the best one instead. Only the
KV cells are kept (``llama_state_seq_get_data``), not the logits buffer llama-cpp-python's own ``LlamaRAMCache``
copies with every state (~300 MB for Qwen's 151,936-token vocabulary). Pure Python + numpy: no llama_cpp.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


@dataclass(frozen=True)
class PrefixState:
    tokens: np.ndarray  # the tokens whose KV cells ``state`` holds, in order
    state: bytes


class PrefixStates:
    """A least-recently-used store of KV states bounded by ``capacity_bytes`` (0 stores nothing)."""

    def __init__(self, capacity_bytes: int):
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[int, PrefixState] = OrderedDict()
        self._next_key = 0
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def longest(self, tokens: Sequence[int]) -> tuple[PrefixState | None, int]:
        """The stored state sharing the longest prefix with ``tokens`` (marked as used), and that length."""
        query = np.asarray(tokens, dtype=np.intc)
        best_key, best_length = None, 0
        for key, entry in self._entries.items():
            length = common_prefix(entry.tokens, query)
            if length > best_length:
                best_key, best_length = key, length
        if best_key is None:
            return None, 0
        self._entries.move_to_end(best_key)
        return self._entries[best_key], best_length

    def put(self, tokens: Sequence[int], state: bytes) -> None:
        """Store a state; states whose tokens are a prefix of ``tokens`` are dropped (this one covers them)."""
        if not tokens or len(state) > self.capacity_bytes:
            return
        entry = PrefixState(np.array(tokens, dtype=np.intc), state)
        for key in [k for k, old in self._entries.items()
                    if len(old.tokens) <= len(entry.tokens) and common_prefix(old.tokens, entry.tokens) == len(old.tokens)]:
            self._drop(key)
        self._entries[self._next_key] = entry
        self._next_key += 1
        self.bytes += len(state)
        while self.bytes > self.capacity_bytes:
            self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0

    def _drop(self, key: int) -> None:
        self.bytes -= len(self._entries.pop(key).state)
