"""Top-k metrics for leave-one-out evaluation, from the 0-based rank of each target."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Share of targets ranked in the top k (rank 0 is the first place)."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks < k)) if ranks.size else 0.0


def ndcg(ranks: np.ndarray, k: int) -> float:
    """Mean NDCG@k with one relevant item per row: 1 / log2(rank + 2) inside the top k, else 0."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not ranks.size:
        return 0.0
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean())


def ranking_metrics(ranks: np.ndarray, ks: Iterable[int] = (10, 20, 50)) -> dict[str, float]:
    """{"HR@k": ..., "NDCG@k": ...} for every k."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"HR@{k}"] = hit_rate(ranks, k)
        out[f"NDCG@{k}"] = ndcg(ranks, k)
    return out
