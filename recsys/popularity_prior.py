"""A popularity prior added to SASRec's scores, its weight chosen on the validation split.

On small or sparse data (the Steam subset: 1,000 training windows, no user ids) plain
popularity ranks about as well as SASRec. Adding ``weight * log(1 + count) / log(1 + max count)``
to every item's score lets the model fall back on popularity where its own signal is weak;
the weight is the one with the best validation NDCG@10, so it stays 0 where popularity does
not help. Dot-product logits and cosines have different scales, so each scoring gets its own.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.evaluator import target_ranks
from afirs_dspy.recsys.metrics import ranking_metrics
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker

# Cosines lie in [-1, 1], dot-product logits span several units: one grid wide enough for both.
PRIOR_WEIGHTS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0)
FIT_METRIC = "NDCG@10"


def popularity_prior(counts: np.ndarray, weight: float) -> torch.Tensor | None:
    """``weight`` times log(1 + count) scaled to [0, 1], per item index; None for weight 0 (no prior)."""
    if not weight:
        return None
    logs = np.log1p(np.asarray(counts, dtype=np.float64))
    return torch.from_numpy(weight * logs / max(logs.max(), 1e-12)).to(torch.float32)


def training_counts(dataset: PreparedDataset) -> np.ndarray:
    """How often each item index occurs in the training sequences (index 0: padding, 0)."""
    return PopularityRanker.from_sequences(list(dataset.train["sequence"]), dataset.n_items).counts


def fit_prior_weights(model: SASRec, dataset: PreparedDataset, device: str | torch.device = "cpu",
                      weights: Sequence[float] = PRIOR_WEIGHTS, batch_size: int = 256) -> dict:
    """Per scoring, the prior weight with the best validation NDCG@10 (the smallest on a tie) and the grid.

    The model scores the validation histories once per scoring; each weight only adds its prior.
    Returns {"dot": w, "cosine": w, "grid": {scoring: {weight: NDCG@10}}}.
    """
    counts = training_counts(dataset)
    histories = list(dataset.valid["history"])
    targets = torch.tensor(np.asarray(dataset.valid["target"], dtype=np.int64))
    fitted: dict = {"grid": {}}
    for scoring in SCORINGS:
        ranker = SASRecRanker(model, device, scoring)
        scores = torch.cat([ranker.scores(histories[i:i + batch_size]).cpu()
                            for i in range(0, len(histories), batch_size)]) if histories else torch.zeros(0)
        grid = {}
        for weight in weights:
            prior = popularity_prior(counts, weight)
            ranks = target_ranks(scores if prior is None else scores + prior, histories, targets)
            grid[str(weight)] = ranking_metrics(ranks.numpy(), (10,))[FIT_METRIC]
        fitted["grid"][scoring] = grid
        fitted[scoring] = float(max(weights, key=lambda w: (grid[str(w)], -w)))
    return fitted
