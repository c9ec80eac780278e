"""The popularity prior: its shape, how the ranker and the tool add it, and its weight fitted on validation."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity_prior import PRIOR_WEIGHTS, fit_prior_weights, popularity_prior, training_counts
from afirs_dspy.recsys.sasrec_ranker import SCORINGS, SASRecRanker
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.tool import RecsysTool
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

HISTORIES = [[1, 2, 3], [4], [5, 6, 7, 8]]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SASRec(12, SASRecConfig(max_len=6, hidden_size=8)).eval()


def test_prior_is_log_popularity_scaled_to_the_weight():
    counts = np.array([0, 0, 1, 3, 7], dtype=np.float32)
    assert popularity_prior(counts, 0.0) is None
    prior = popularity_prior(counts, 2.0)
    np.testing.assert_allclose(prior.numpy(), 2.0 * np.log1p(counts) / np.log(8.0), rtol=1e-6)
    assert prior[4].item() == pytest.approx(2.0) and prior[0].item() == prior[1].item() == 0.0


@pytest.mark.parametrize("scoring", SCORINGS)
def test_ranker_adds_the_prior_to_every_row(model, scoring):
    prior = popularity_prior(np.arange(13, dtype=np.float32), 0.5)
    plain = SASRecRanker(model, scoring=scoring).scores(HISTORIES)
    shifted = SASRecRanker(model, scoring=scoring, prior=prior).scores(HISTORIES)
    assert torch.allclose(shifted - plain, prior.expand_as(plain), atol=1e-6)
    # An empty history has all-zero model scores, so the prior alone ranks it: by popularity.
    assert torch.equal(SASRecRanker(model, scoring=scoring, prior=prior).scores([[]])[0], prior)


def test_tool_scores_are_cosine_plus_prior(model):
    counts = np.arange(13, dtype=np.float32)
    index = ItemIndex.from_mapping({"a": range(1, 13)}, 12)
    plain, _ = RecsysTool(model, index, index, counts).scores([1, 2])
    shifted, scored_by = RecsysTool(model, index, index, counts, prior_weight=0.3).scores([1, 2])
    expected = plain + popularity_prior(counts, 0.3).numpy()
    finite = np.isfinite(plain)
    np.testing.assert_allclose(shifted[finite], expected[finite], rtol=1e-5, atol=1e-6)
    assert scored_by == "cosine" and not np.isfinite(shifted[[0, 1, 2]]).any()


def test_fit_picks_a_weight_only_where_popularity_predicts_validation(model):
    base = synthetic_dataset(n_users=40, n_items=12, length=6)
    # Item 9 is by far the most popular in training; in ``popular`` it is every validation target.
    train = pd.concat([base.train, pd.DataFrame({"user": [f"p{i}" for i in range(30)], "sequence": [[9, 9]] * 30})])
    counts_of = dataclasses.replace(base, train=train)
    popular = dataclasses.replace(counts_of, valid=base.valid.assign(target=9))
    assert training_counts(popular).argmax() == 9
    fitted = fit_prior_weights(model, popular)
    assert set(fitted) == {"dot", "cosine", "grid"}
    for scoring in SCORINGS:
        assert fitted[scoring] > 0
        grid = fitted["grid"][scoring]
        assert list(grid) == [str(w) for w in PRIOR_WEIGHTS]
        assert grid[str(fitted[scoring])] == max(grid.values()) > grid["0.0"]
        # The fit's shortcut (score once, add each prior) agrees with the evaluator's ranking.
        for weight in ("0.0", str(fitted[scoring])):
            ranker = SASRecRanker(model, scoring=scoring, prior=popularity_prior(training_counts(popular), float(weight)))
            assert grid[weight] == pytest.approx(evaluate(ranker, popular.valid)["NDCG@10"])
    # Validation targets that popularity cannot find (the least popular item): no prior.
    rare = training_counts(counts_of)[1:].argmin() + 1
    unpopular = dataclasses.replace(counts_of, valid=base.valid.assign(target=rare))
    fitted = fit_prior_weights(model, unpopular)
    assert fitted["dot"] == fitted["cosine"] == 0.0
