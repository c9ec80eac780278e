"""The popularity ranker: the floor every recommender must beat."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from afirs_dspy.recsys.batches import flatten


class PopularityRanker:
    """Scores every item by how often it occurs in the training sequences, whoever the user is."""

    def __init__(self, counts: np.ndarray):
        self.counts = np.asarray(counts, dtype=np.float32)

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[int]], n_items: int) -> PopularityRanker:
        counts = np.bincount(flatten(sequences)[0], minlength=n_items + 1).astype(np.float32)
        return cls(counts)

    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1): the same counts for every history."""
        return torch.from_numpy(self.counts).expand(len(histories), -1)
