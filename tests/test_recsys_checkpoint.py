"""Training on synthetic data, seeds, checkpoints and the load-or-train logic."""
import dataclasses
import json

import pytest
import torch

from afirs_dspy.recsys.artifacts import checkpoint_dir, load_or_train, load_tool
from afirs_dspy.recsys.checkpoint import load_checkpoint, mismatch
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.refit import refit_sequences
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.score_prior import PriorWeights, ScorePrior
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.trainer import train_sasrec
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

CONFIG = SASRecConfig(max_len=10, hidden_size=32, n_heads=2, dropout=0.1, lr=5e-3, batch_size=32,
                      max_epochs=8, patience=3)


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset(n_users=200, n_items=60, length=12)


@pytest.fixture(scope="module")
def saved(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    checkpoint, how = load_or_train(dataset, CONFIG, root, progress=False)
    return root, checkpoint, how


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_training_learns_the_successor_rule(dataset, loss):
    result = train_sasrec(dataset, dataclasses.replace(CONFIG, loss=loss), progress=False)
    popularity = PopularityRanker.from_sequences(list(dataset.train["sequence"]), dataset.n_items)
    ours = evaluate(SASRecRanker(result.model), dataset.test)
    assert ours["HR@10"] > 0.9 > 3 * evaluate(popularity, dataset.test)["HR@10"]
    assert result.best_epoch >= 1 and len(result.epochs) <= CONFIG.max_epochs
    assert result.epochs[-1]["loss"] < result.epochs[0]["loss"]


def test_same_seed_same_model(dataset):
    config = dataclasses.replace(CONFIG, max_epochs=2)
    a, b = (train_sasrec(dataset, config, progress=False).model.state_dict() for _ in range(2))
    assert all(torch.equal(a[key], b[key]) for key in a)
    c = train_sasrec(dataset, dataclasses.replace(config, seed=7), progress=False).model.state_dict()
    assert not torch.equal(a["item_emb.weight"], c["item_emb.weight"])


def test_save_load_round_trip_gives_identical_scores(dataset, saved):
    root, checkpoint, how = saved
    assert how == "trained (no checkpoint yet)"
    loaded = load_checkpoint(checkpoint_dir(dataset.name, root))
    histories = list(dataset.test["history"])
    assert torch.equal(SASRecRanker(checkpoint.model).scores(histories), SASRecRanker(loaded.model).scores(histories))
    assert loaded.config == CONFIG and loaded.metrics == checkpoint.metrics
    assert set(loaded.metrics) >= {"valid", "test", "popularity", "best_epoch", "seconds_per_epoch", "machine"}
    assert loaded.metrics["test"]["NDCG@10"] > loaded.metrics["popularity"]["test"]["NDCG@10"]


def test_matching_checkpoint_is_loaded_not_retrained(dataset, saved):
    root, checkpoint, _ = saved
    again, how = load_or_train(dataset, CONFIG, root, progress=False)
    assert how.startswith("loaded")
    assert torch.equal(again.model.item_emb.weight, checkpoint.model.item_emb.weight)


def test_mismatches_are_detected(dataset, saved):
    root, checkpoint, _ = saved
    other = synthetic_dataset(n_users=200, n_items=60, length=12, seed=1)
    assert "content_sha256" in mismatch(checkpoint, other)
    assert "seed 42 -> 3" in mismatch(checkpoint, dataset, dataclasses.replace(CONFIG, seed=3))
    assert mismatch(checkpoint, dataset, CONFIG) is None
    with pytest.raises(ValueError, match="different data"):
        load_tool(other, root)
    assert load_tool(dataset, root).recommend(dataset.test["history"][0], ["even"], k=5).stages == ("preferences",) * 5


def test_changed_config_or_force_retrains(dataset, tmp_path):
    config = dataclasses.replace(CONFIG, max_epochs=1)
    load_or_train(dataset, config, tmp_path, progress=False)
    _, how = load_or_train(dataset, dataclasses.replace(config, seed=5), tmp_path, progress=False)
    assert how.startswith("retrained: ") and "seed" in how
    _, how = load_or_train(dataset, dataclasses.replace(config, seed=5), tmp_path, force=True, progress=False)
    assert how == "retrained (--force)"
    (checkpoint_dir(dataset.name, tmp_path) / "config.json").write_text("{broken")
    _, how = load_or_train(dataset, config, tmp_path, progress=False)
    assert "could not be read" in how


def test_prior_weights_are_saved_and_used_by_the_tool(dataset, saved):
    root, checkpoint, _ = saved
    assert set(checkpoint.prior_weights) == {"dot", "cosine"}
    loaded = load_checkpoint(checkpoint_dir(dataset.name, root))
    assert loaded.prior_weights == checkpoint.prior_weights
    assert set(loaded.metrics["score_prior"]["valid"]) == {"dot", "cosine"}
    served = load_tool(dataset, root).ranker.prior
    assert isinstance(served, ScorePrior) and served.weights == checkpoint.prior("cosine")
    # The prior counts what the saved model was trained on: the refit's sequences, validation targets included.
    assert served.counts.tolist() == ScorePrior.from_sequences(refit_sequences(dataset), dataset.n_items).counts.tolist()


def test_checkpoint_from_before_the_score_prior_loads_and_is_retrained(dataset, tmp_path):
    config = dataclasses.replace(CONFIG, max_epochs=1)
    load_or_train(dataset, config, tmp_path, progress=False)
    header_file = checkpoint_dir(dataset.name, tmp_path) / "config.json"
    header = json.loads(header_file.read_text())
    del header["score_prior"]
    header_file.write_text(json.dumps({**header, "popularity_prior": {"dot": 2.0, "cosine": 0.5}}))
    popularity_only = load_checkpoint(checkpoint_dir(dataset.name, tmp_path))
    assert popularity_only.prior("cosine") == PriorWeights(popularity=0.5)
    header_file.write_text(json.dumps(header))
    old = load_checkpoint(checkpoint_dir(dataset.name, tmp_path))
    assert old.prior_weights == {} and old.prior("cosine") == PriorWeights()
    assert load_tool(dataset, tmp_path).ranker.prior([[1, 2]]) is None  # still serves, without a prior
    _, how = load_or_train(dataset, config, tmp_path, progress=False)
    assert how.startswith("retrained: ") and "no score-prior weights" in how


def test_a_model_with_side_information_round_trips(dataset, tmp_path):
    config = dataclasses.replace(CONFIG, max_epochs=2, item_features=True)
    checkpoint, _ = load_or_train(dataset, config, tmp_path, progress=False)
    directory = checkpoint_dir(dataset.name, tmp_path)
    assert json.loads((directory / "config.json").read_text())["item_features"] == ["even", "high", "low", "odd"]
    loaded = load_checkpoint(directory)
    assert loaded.model.feature_names == ("even", "high", "low", "odd")
    histories = list(dataset.test["history"])
    assert torch.equal(SASRecRanker(checkpoint.model).scores(histories), SASRecRanker(loaded.model).scores(histories))
    tool = load_tool(dataset, tmp_path)
    assert torch.allclose(torch.from_numpy(tool.item_embeddings().copy()), loaded.model.item_table().detach())
