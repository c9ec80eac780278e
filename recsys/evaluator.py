"""Full-ranking leave-one-out evaluation: every item is a candidate, no sampled negatives."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from afirs_dspy.recsys.batches import left_pad
from afirs_dspy.recsys.metrics import ranking_metrics

DEFAULT_KS = (10, 20, 50)


class Ranker(Protocol):
    def scores(self, histories: Sequence[Sequence[int]]) -> torch.Tensor:
        """(B, n_items + 1) scores, higher is better; column 0 is padding."""


def exclude_seen(scores: torch.Tensor, histories: Sequence[Sequence[int]], targets: torch.Tensor) -> torch.Tensor:
    """A float32 copy of ``scores`` with padding and the history items at -inf, except the target itself
    (a repeated target still counts). Adding finite scores (a prior) keeps them out of every ranking."""
    scores = scores.to(torch.float32, copy=True)
    targets = targets.to(scores.device).unsqueeze(1)
    target_scores = scores.gather(1, targets)
    seen = torch.from_numpy(left_pad(histories, max(map(len, histories), default=0))).to(scores.device)
    scores[:, 0] = -torch.inf
    scores.scatter_(1, seen, -torch.inf)
    scores.scatter_(1, targets, target_scores)
    return scores


def ranks_among(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target in its row of ``scores`` (excluded items already at -inf). Ties are
    broken towards the lower item index, so a constant ranker cannot score by luck."""
    targets = targets.to(scores.device).unsqueeze(1)
    target_scores = scores.gather(1, targets)
    index = torch.arange(scores.size(1), device=scores.device)
    ahead = (scores > target_scores) | ((scores == target_scores) & (index < targets))
    return ahead.sum(1)


def target_ranks(scores: torch.Tensor, histories: Sequence[Sequence[int]], targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among all items not in its history (``exclude_seen``, ``ranks_among``)."""
    return ranks_among(exclude_seen(scores, histories, targets), targets)


def evaluate(ranker: Ranker, split: pd.DataFrame, ks: Iterable[int] = DEFAULT_KS,
             batch_size: int = 256) -> dict[str, float]:
    """HR@k and NDCG@k of ``ranker`` over a valid/test table (columns history, target)."""
    histories = list(split["history"])
    targets = torch.tensor(np.asarray(split["target"], dtype=np.int64))
    ranks = [
        target_ranks(ranker.scores(histories[i:i + batch_size]), histories[i:i + batch_size],
                     targets[i:i + batch_size]).cpu()
        for i in range(0, len(histories), batch_size)
    ]
    return ranking_metrics(torch.cat(ranks).numpy() if ranks else np.zeros(0), ks)
