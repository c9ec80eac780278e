"""The score prior: its popularity and co-occurrence terms, how the ranker and the tool add it, and its
weights fitted on validation."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity_prior import popularity_prior, training_counts
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker
from afirs_dspy.recsys.score_prior import PriorWeights, ScorePrior, fit_prior_weights
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.tool import RecsysTool
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

HISTORIES = [[1, 2, 3], [4], [5, 6, 7, 8]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SASRec(12, SASRecConfig(max_len=6, hidden_size=8)).eval()


def prior_of(dataset, weights: PriorWeights) -> ScorePrior:
    return ScorePrior.from_sequences(list(dataset.train["sequence"]), dataset.n_items, weights)


def test_prior_is_log_popularity_scaled_to_the_weight():
    counts = np.array([0, 0, 1, 3, 7], dtype=np.float32)
    assert popularity_prior(counts, 0.0) is None
    prior = popularity_prior(counts, 2.0)
    np.testing.assert_allclose(prior.numpy(), 2.0 * np.log1p(counts) / np.log(8.0), rtol=1e-6)
    assert prior[4].item() == pytest.approx(2.0) and prior[0].item() == prior[1].item() == 0.0


def test_score_prior_sums_its_weighted_terms():
    sequences = [[1, 2], [2, 3], [1, 2, 4], [5]]
    assert ScorePrior.from_sequences(sequences, 6)(HISTORIES) is None  # all weights 0: no prior
    both = ScorePrior.from_sequences(sequences, 6, PriorWeights(popularity=0.5, cooccurrence=2.0, decay=0.8))
    assert both.counts.tolist() == [0, 2, 3, 1, 1, 1, 0]
    expected = (popularity_prior(both.counts, 0.5) + 2.0 * torch.from_numpy(both.cooccurrence.scores([[1], [5]], 0.8)))
    assert torch.allclose(both([[1], [5]]), expected)


@pytest.mark.parametrize("scoring", SCORINGS)
def test_ranker_adds_a_fixed_or_a_per_history_prior(model, scoring):
    prior = popularity_prior(np.arange(13, dtype=np.float32), 0.5)
    plain = SASRecRanker(model, scoring=scoring).scores(HISTORIES)
    shifted = SASRecRanker(model, scoring=scoring, prior=prior).scores(HISTORIES)
    assert torch.allclose(shifted - plain, prior.expand_as(plain), atol=1e-6)
    # An empty history has all-zero model scores, so the prior alone ranks it: by popularity.
    assert torch.equal(SASRecRanker(model, scoring=scoring, prior=prior).scores([[]])[0], prior)
    per_history = ScorePrior.from_sequences([[1, 2, 3], [3, 4], [6, 7, 8]], 12, PriorWeights(0.5, 1.0, 0.5))
    near = SASRecRanker(model, scoring=scoring, prior=per_history).scores(HISTORIES)
    assert torch.allclose(near - plain, per_history(HISTORIES), atol=1e-6)


def test_tool_scores_are_cosine_plus_prior(model):
    counts = np.arange(13, dtype=np.float32)
    index = ItemIndex.from_mapping({"a": range(1, 13)}, 12)
    plain, _ = RecsysTool(model, index, index, counts).scores([1, 2])
    shifted, scored_by = RecsysTool(model, index, index, counts, prior_weight=0.3).scores([1, 2])
    expected = plain + popularity_prior(counts, 0.3).numpy()
    finite = np.isfinite(plain)
    np.testing.assert_allclose(shifted[finite], expected[finite], rtol=1e-5, atol=1e-6)
    assert scored_by == "cosine" and not np.isfinite(shifted[[0, 1, 2]]).any()
    prior = ScorePrior.from_sequences([[1, 2, 5], [2, 6], [9, 10]], 12, PriorWeights(0.2, 1.0, 0.5))
    near, _ = RecsysTool(model, index, index, counts, prior=prior).scores([1, 2])
    np.testing.assert_allclose(near[finite], (plain + prior([[1, 2]])[0].numpy())[finite], rtol=1e-5, atol=1e-6)
    assert near[5] > near[6] > near[9]  # 5 co-occurs with both history items, 6 with the last, 9 with neither


def test_fit_picks_popularity_only_where_popularity_predicts_validation(model):
    base = synthetic_dataset(n_users=40, n_items=12, length=6)
    # Item 9 is by far the most popular in training; in ``popular`` it is every validation target.
    train = pd.concat([base.train, pd.DataFrame({"user": [f"p{i}" for i in range(30)], "sequence": [[9, 9]] * 30})])
    counts_of = dataclasses.replace(base, train=train)
    popular = dataclasses.replace(counts_of, valid=base.valid.assign(target=9))
    assert training_counts(popular).argmax() == 9
    fitted = fit_prior_weights(model, popular, prior_of(popular, PriorWeights()))
    assert set(fitted) == {"dot", "cosine", "valid"}
    for scoring in SCORINGS:
        weights = PriorWeights.from_dict(fitted[scoring])
        assert weights.popularity > 0
        valid = fitted["valid"][scoring]
        assert valid["both"] == max(valid.values()) > valid["none"]
        # The fit's shortcut (score once, add each prior) agrees with the evaluator's ranking.
        ranker = SASRecRanker(model, scoring=scoring, prior=prior_of(popular, weights))
        assert valid["both"] == pytest.approx(evaluate(ranker, popular.valid)["NDCG@10"])
    # Validation targets that popularity cannot find (the least popular item): no popularity term.
    rare = training_counts(counts_of)[1:].argmin() + 1
    unpopular = dataclasses.replace(counts_of, valid=base.valid.assign(target=rare))
    fitted = fit_prior_weights(model, unpopular, prior_of(unpopular, PriorWeights()))
    assert fitted["dot"]["popularity"] == fitted["cosine"]["popularity"] == 0.0


def test_fit_picks_cooccurrence_where_the_history_predicts_validation(model):
    # The synthetic users walk i, i+1, i+2, …: the next item always co-occurs with the last one.
    dataset = synthetic_dataset(n_users=60, n_items=12, length=6)
    fitted = fit_prior_weights(model, dataset, prior_of(dataset, PriorWeights()))
    for scoring in SCORINGS:
        assert fitted[scoring]["cooccurrence"] > 0
        assert fitted["valid"][scoring]["cooccurrence"] > fitted["valid"][scoring]["popularity"]
