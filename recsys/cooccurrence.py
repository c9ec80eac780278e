"""Item co-occurrence in the training sequences: item-based collaborative filtering, a prior on SASRec's scores.

Items that sit in the same training sequences (Steam windows, MovieLens and Beauty histories) tend
to be wanted together, and counting that needs no training: on the Steam subset's 1,000 windows it
finds what a self-attention model has too few examples to learn. The similarity of two items is the
cosine of their sequence-incidence vectors (ItemKNN, Sarwar et al. 2001), co-occurrences /
sqrt(n_i n_j), so a popular item does not neighbour everything (popularity has its own prior).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from afirs_dspy.recsys.batches import flatten


class Cooccurrence:
    """Item-item similarities over item indices 0..n_items (row and column 0, padding, are empty)."""

    def __init__(self, similarity: sp.csr_matrix):
        self.similarity = similarity.tocsr()
        self.n_items = similarity.shape[0] - 1

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[int]], n_items: int) -> Cooccurrence:
        flat, lengths = flatten(sequences)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        incidence = sp.csr_matrix((np.ones(flat.size, dtype=np.float32), (rows, flat)),
                                  shape=(len(lengths), n_items + 1))
        incidence.data[:] = 1.0  # an item twice in one sequence still co-occurs once
        counts = (incidence.T @ incidence).tocsr()
        norm = (1.0 / np.sqrt(np.maximum(counts.diagonal(), 1.0))).astype(np.float32)
        counts.setdiag(0.0)
        counts.eliminate_zeros()
        return cls((sp.diags(norm) @ counts @ sp.diags(norm)).astype(np.float32))

    def scores(self, histories: Sequence[Sequence[int]], decay: float) -> np.ndarray:
        """(B, n_items + 1) float32: each history item's similarities, weighted ``decay ** steps back``
        from the newest, summed, and scaled so a row's best item scores 1 (all 0 without neighbours)."""
        flat, lengths = flatten(histories)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        steps_back = np.repeat(np.cumsum(lengths), lengths) - 1 - np.arange(flat.size)
        weights = sp.csr_matrix((decay ** steps_back.astype(np.float64), (rows, flat)),
                                shape=(len(lengths), self.n_items + 1))
        scores = (weights @ self.similarity).toarray().astype(np.float32)
        return scores / np.maximum(scores.max(axis=1, keepdims=True), np.float32(1e-12))
