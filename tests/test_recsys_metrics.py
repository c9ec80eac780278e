"""Metric functions and the full-ranking evaluator against hand-computed values."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from afirs_dspy.recsys.evaluator import evaluate, target_ranks
from afirs_dspy.recsys.metrics import hit_rate, ndcg, ranking_metrics
from afirs_dspy.recsys.popularity import PopularityRanker


def test_hit_rate_and_ndcg_by_hand():
    ranks = np.array([0, 1, 4, 9, 10, 30])
    assert hit_rate(ranks, 10) == pytest.approx(4 / 6)
    assert hit_rate(ranks, 1) == pytest.approx(1 / 6)
    # 1/log2(2) + 1/log2(3) + 1/log2(6) + 1/log2(11), over six rows.
    expected = (1.0 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 6
    assert ndcg(ranks, 10) == pytest.approx(expected)
    assert ndcg(ranks, 50) == pytest.approx(expected + (1 / math.log2(12) + 1 / math.log2(32)) / 6)
    assert ndcg([0], 10) == 1.0 and ndcg([3], 3) == 0.0
    assert hit_rate([], 10) == 0.0 and ndcg([], 10) == 0.0


def test_ranking_metrics_keys():
    assert ranking_metrics(np.array([2]), ks=(1, 5)) == {
        "HR@1": 0.0, "NDCG@1": 0.0, "HR@5": 1.0, "NDCG@5": pytest.approx(0.5)}


class FixedRanker:
    def __init__(self, scores):
        self.table = torch.tensor(scores, dtype=torch.float32)

    def scores(self, histories):
        return self.table.expand(len(histories), -1)


def test_target_rank_excludes_history_and_padding_and_breaks_ties_by_index():
    #                      pad  1    2    3    4    5
    scores = torch.tensor([[9., 5.0, 4.0, 3.0, 3.0, 1.0]]).repeat(4, 1)
    histories = [[1], [1, 2], [], [4, 3]]
    targets = torch.tensor([3, 3, 4, 4])
    ranks = target_ranks(scores, histories, targets)
    # Row 0: 2 > 3; item 1 excluded; padding never counts. Row 1: nothing ahead.
    # Row 2: 1, 2 ahead, and 3 ties with 4 but has the lower index. Row 3: the target
    # in its own history still counts; the other history item 3 is excluded.
    assert ranks.tolist() == [1, 0, 3, 2]


def test_evaluate_full_ranking_by_hand():
    ranker = FixedRanker([0., 4., 3., 2., 1.])
    split = pd.DataFrame({"history": [[1], [], [2, 3]], "target": [2, 4, 4]})
    metrics = evaluate(ranker, split, ks=(1, 2), batch_size=2)
    # Ranks: 0 (item 1 excluded), 3, 1 (items 2 and 3 excluded).
    assert metrics["HR@1"] == pytest.approx(1 / 3)
    assert metrics["HR@2"] == pytest.approx(2 / 3)
    assert metrics["NDCG@2"] == pytest.approx((1 + 1 / math.log2(3)) / 3)


def test_popularity_counts_training_occurrences():
    ranker = PopularityRanker.from_sequences([[1, 2, 2], [2, 3], []], n_items=4)
    assert ranker.counts.tolist() == [0, 1, 3, 1, 0]
    assert ranker.scores([[1], [2]]).shape == (2, 5)
