"""A ``llama_cpp.Llama`` that resumes each prompt from the saved KV state sharing its longest prefix.

Imported only by ``LlamaCppRuntime.load`` (it needs llama_cpp). Before a prompt is evaluated, the stored state
with the longest common token prefix is restored when it beats what the context already holds; llama-cpp-python
then evaluates only the rest. After each completion the context's KV cells (prompt and answer) are stored.
"""
from __future__ import annotations

import ctypes
import logging
from typing import Any, Iterator, Sequence

import llama_cpp
import numpy as np
from llama_cpp import Llama

from afirs_dspy.lm.grammar_sampler import GrammarCheckedSampler
from afirs_dspy.lm.prefix_states import PrefixStates, common_prefix

logger = logging.getLogger(__name__)

_SEQUENCE = 0  # llama-cpp-python decodes every prompt as sequence 0


def reusable_tokens(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """Prompt tokens llama-cpp-python skips given the context's tokens: the common prefix, less one when the
    whole prompt is cached (its last token is decoded again to get fresh logits)."""
    length = common_prefix(np.asarray(cached, dtype=np.intc), np.asarray(prompt, dtype=np.intc))
    return length - 1 if length == len(prompt) and length > 0 else length


class PrefixCachingLlama(Llama):
    """``Llama(..., prefix_states=PrefixStates(bytes))``; ``reused_tokens`` is the last prompt's cache hit."""

    def __init__(self, *args: Any, prefix_states: PrefixStates, grammar_on_chosen_token: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.prefix_states = prefix_states
        self.grammar_on_chosen_token = grammar_on_chosen_token
        self.reused_tokens = 0

    def _init_sampler(self, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        if grammar is None or not self.grammar_on_chosen_token:
            return super()._init_sampler(*args, grammar=grammar, **kwargs)
        chain = super()._init_sampler(*args, grammar=None, **kwargs)
        return GrammarCheckedSampler(chain, self._model.vocab, grammar, self._n_vocab)

    def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        tokens = list(tokens)
        if self.prefix_states.capacity_bytes:
            self._resume_from_longest_prefix(tokens)
        self.reused_tokens = reusable_tokens(self._input_ids, tokens)
        failed = False
        try:
            yield from super().generate(tokens, *args, **kwargs)
        except GeneratorExit:  # the caller stopped reading (stop sequence, max_tokens): a normal end
            raise
        except BaseException:
            failed = True
            raise
        finally:
            if not failed and self.prefix_states.capacity_bytes:
                self._save()

    def _resume_from_longest_prefix(self, tokens: list[int]) -> None:
        entry, length = self.prefix_states.longest(tokens)
        if entry is None or length <= common_prefix(self._input_ids, np.asarray(tokens, dtype=np.intc)):
            return  # the context already holds at least as long a prefix
        self._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(entry.state)).from_buffer_copy(entry.state)
        if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, buffer, len(entry.state), _SEQUENCE) == 0:
            logger.warning("llama.cpp refused a saved KV state; evaluating the prompt in full and emptying the prefix cache")
            self._ctx.kv_cache_seq_rm(-1, 0, -1)
            self.n_tokens = 0
            self.prefix_states.clear()
            return
        self.input_ids[: len(entry.tokens)] = entry.tokens
        self.n_tokens = len(entry.tokens)
        self._requires_eval = True

    def _save(self) -> None:
        if self.n_tokens == 0:
            return
        size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, _SEQUENCE)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(self._ctx.ctx, buffer, size, _SEQUENCE)
        self.prefix_states.put(self._input_ids.tolist(), bytes(buffer)[:written])

