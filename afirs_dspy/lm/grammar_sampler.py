"""Grammar-constrained sampling that consults the grammar for the chosen token first, as llama.cpp's own tools do.

llama-cpp-python puts the grammar at the head of its sampler chain, so every generated token first runs the
grammar over all 151,936 vocabulary entries of the Qwen models. ``GrammarCheckedSampler`` samples with the same
chain without the grammar, asks the grammar about that one token, and masks the whole vocabulary only when the
grammar rejects it (llama.cpp's ``common_sampler_sample``). Under greedy decoding the answer is the same token for
token: a grammar-valid argmax of all logits is the argmax of the valid ones. Imported only where llama_cpp is.
"""
from __future__ import annotations

import ctypes
import math

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaContext, LlamaSampler
from llama_cpp.llama_grammar import LlamaGrammar


class GrammarCheckedSampler:
    """Stands in for llama-cpp-python's ``LlamaSampler`` (``sample``, ``close``) when a grammar is given."""

    def __init__(self, chain: LlamaSampler, vocab: ctypes.c_void_p, grammar: LlamaGrammar, n_vocab: int):
        self._chain = chain  # built without the grammar
        self._grammar = llama_cpp.llama_sampler_init_grammar(vocab, grammar._grammar.encode(), grammar._root.encode())
        if not self._grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self._n_vocab = n_vocab
        self._data = (llama_cpp.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)  # fields id, logit, p over the same memory
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self.full_masks = 0  # tokens the grammar had to choose among the whole vocabulary (for benchmarks)

    def sample(self, ctx: LlamaContext, idx: int = -1) -> int:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,))
        token = self._pick(logits, grammar_first=False)
        if not self._allows(token):
            self.full_masks += 1
            token = self._pick(logits, grammar_first=True)
        llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain.sampler, token)
        return token

    def _pick(self, logits: np.ndarray, grammar_first: bool) -> int:
        self._view["id"] = self._ids
        self._view["logit"] = logits
        self._view["p"] = 0.0
        candidates = llama_cpp.llama_token_data_array(self._data, self._n_vocab, -1, False)
        if grammar_first:
            llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(candidates))
        llama_cpp.llama_sampler_apply(self._chain.sampler, ctypes.byref(candidates))
        return int(candidates.data[candidates.selected].id)

    def _allows(self, token: int) -> bool:
        single = llama_cpp.llama_token_data(token, 1.0, 0.0)
        candidates = llama_cpp.llama_token_data_array(ctypes.pointer(single), 1, -1, False)
        llama_cpp.llama_sampler_apply(self._grammar, ctypes.byref(candidates))
        return not math.isinf(single.logit)

    def close(self) -> None:
        if self._grammar:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
        self._chain.close()

    def __del__(self) -> None:
        self.close()
