"""What is added to SASRec's scores: popularity and co-occurrence priors, their weights chosen on validation.

On small or sparse data (the Steam subset: 1,000 training windows, no user ids) counting beats
learning for part of the catalog: popularity, and the items a history's items co-occur with in the
training sequences (``cooccurrence``). Both terms lie in [0, 1] per item; their weights and the
co-occurrence's recency decay are the ones with the best validation NDCG@10 (all 0 where they do
not help). Dot-product logits and cosines have different scales, so each scoring gets its own.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.batches import flatten
from afirs_dspy.recsys.cooccurrence import Cooccurrence
from afirs_dspy.recsys.evaluator import exclude_seen, ranks_among
from afirs_dspy.recsys.metrics import ranking_metrics
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity_prior import popularity_prior
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker

# Cosines lie in [-1, 1], dot-product logits span several units: one grid wide enough for both.
PRIOR_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 10.0)
DECAYS = (0.5, 0.8, 1.0)  # recency weight per step back in the history, for the co-occurrence term
FIT_METRIC = "NDCG@10"


@dataclass(frozen=True)
class PriorWeights:
    popularity: float = 0.0
    cooccurrence: float = 0.0
    decay: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PriorWeights:
        return cls(**{key: float(value) for key, value in values.items()})


class ScorePrior:
    """Per history, ``popularity`` × log-popularity + ``cooccurrence`` × co-occurrence with the history,
    over item indices 0..n_items, from the sequences a model was trained on."""

    def __init__(self, counts: np.ndarray, cooccurrence: Cooccurrence, weights: PriorWeights):
        self.counts = np.asarray(counts, dtype=np.float32)
        self.cooccurrence = cooccurrence
        self.weights = weights
        self.popularity = popularity_prior(self.counts, weights.popularity)

    @classmethod
    def from_sequences(cls, sequences: Sequence[Sequence[int]], n_items: int,
                       weights: PriorWeights = PriorWeights()) -> ScorePrior:
        counts = np.bincount(flatten(sequences)[0], minlength=n_items + 1)
        return cls(counts, Cooccurrence.from_sequences(sequences, n_items), weights)

    def with_weights(self, weights: PriorWeights) -> ScorePrior:
        return ScorePrior(self.counts, self.cooccurrence, weights)

    def __call__(self, histories: Sequence[Sequence[int]]) -> torch.Tensor | None:
        """(B, n_items + 1) float32, or None when every weight is 0 (no prior)."""
        prior = None if self.popularity is None else self.popularity.expand(len(histories), -1)
        if self.weights.cooccurrence:
            near = self.weights.cooccurrence * torch.from_numpy(self.cooccurrence.scores(histories, self.weights.decay))
            prior = near if prior is None else prior + near
        return prior


def fit_prior_weights(model: SASRec, dataset: PreparedDataset, prior: ScorePrior, device: str | torch.device = "cpu",
                      weights: Sequence[float] = PRIOR_WEIGHTS, decays: Sequence[float] = DECAYS,
                      batch_size: int = 256) -> dict:
    """Per scoring, the prior weights with the best validation NDCG@10 (the smallest on a tie).

    ``prior`` holds the counts and co-occurrences of the sequences ``model`` was trained on. The model
    scores the validation histories once per scoring; each combination only adds its priors. Returns
    {scoring: PriorWeights dict, "valid": {scoring: NDCG@10 with no prior, popularity only,
    co-occurrence only, both}} (each the best of its part of the grid).
    """
    histories = list(dataset.valid["history"])
    targets = torch.tensor(np.asarray(dataset.valid["target"], dtype=np.int64))
    popularity = {w: popularity_prior(prior.counts, w) for w in weights}
    near = {d: torch.from_numpy(prior.cooccurrence.scores(histories, d)) for d in decays}
    fitted: dict = {"valid": {}}
    for scoring in SCORINGS:
        ranker = SASRecRanker(model, device, scoring)
        # History items are excluded once (-inf stays -inf whatever prior is added).
        scores = exclude_seen(torch.cat([ranker.scores(histories[i:i + batch_size]).cpu()
                                         for i in range(0, len(histories), batch_size)]), histories, targets)
        grid = {}
        for w_pop, w_near, decay in itertools.product(weights, weights, decays):
            if w_near == 0 and decay != decays[-1]:
                continue  # the decay only matters to the co-occurrence term
            total = scores if popularity[w_pop] is None else scores + popularity[w_pop]
            ranks = ranks_among(torch.add(total, near[decay], alpha=w_near) if w_near else total, targets)
            grid[PriorWeights(w_pop, w_near, decay)] = ranking_metrics(ranks.numpy(), (10,))[FIT_METRIC]
        # Best score first; on a tie the smallest weights, then the slowest decay.
        best = max(grid, key=lambda p: (grid[p], -(p.popularity + p.cooccurrence), p.decay))
        fitted[scoring] = best.to_dict()
        fitted["valid"][scoring] = {
            "none": grid[PriorWeights(decay=decays[-1])],
            "popularity": max(v for p, v in grid.items() if not p.cooccurrence),
            "cooccurrence": max(v for p, v in grid.items() if not p.popularity),
            "both": grid[best],
        }
    return fitted
