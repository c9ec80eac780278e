"""The refit: what the model that scores the test split trains on, and that it is the model saved."""
import dataclasses

import pandas as pd
import pytest
import torch

import afirs_dspy.recsys.trainer as trainer
from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.artifacts import load_or_train
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.refit import refit_sequences
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.trainer import train_sasrec
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

CONFIG = SASRecConfig(max_len=8, hidden_size=16, n_blocks=1, batch_size=16, max_epochs=4, patience=2, dropout=0.2)


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset(n_users=60, n_items=30, length=8)


def test_leave_one_out_refit_sequences_are_the_test_histories(dataset):
    assert sorted(refit_sequences(dataset)) == sorted(map(list, dataset.test["history"]))


def test_window_refit_replaces_validation_histories_by_their_windows():
    valid = pd.DataFrame({"user": ["v0", "v1", "v2"], "history": [[1, 2], [3], [1, 2]], "target": [5, 6, 7]})
    test = pd.DataFrame({"user": ["t0"], "history": [[4, 5]], "target": [8]})
    # As the window preprocessing builds it: training windows whole, then valid and test histories of 2+ items.
    train = pd.DataFrame({"user": ["a", "b", "c", "d"], "sequence": [[1, 2, 3], [1, 2], [1, 2], [4, 5]]})
    items = pd.DataFrame({"idx": range(1, 9), "attributes": [[]] * 8, "description": ""})
    windows = PreparedDataset("w", items, train, valid, test, {})
    assert sorted(refit_sequences(windows)) == sorted([[1, 2, 3], [4, 5], [1, 2, 5], [3, 6], [1, 2, 7]])


def test_refit_trains_the_given_epochs_on_train_and_valid_without_validation(dataset, monkeypatch):
    monkeypatch.setattr(trainer, "evaluate", lambda *args, **kwargs: pytest.fail("a refit must not validate"))
    result = train_sasrec(dataset, CONFIG, progress=False, refit_epochs=3)
    assert [e["epoch"] for e in result.epochs] == [1, 2, 3] and result.best_epoch == 3
    assert all("valid" not in e for e in result.epochs)
    # More data than the validated training: the validation targets are in.
    assert trainer.training_array(refit_sequences(dataset), CONFIG.max_len).sum() > \
        trainer.training_array(dataset.train["sequence"], CONFIG.max_len).sum()


def test_the_saved_model_is_the_refit_for_the_best_epoch(dataset, tmp_path):
    checkpoint, _ = load_or_train(dataset, CONFIG, tmp_path, progress=False)
    metrics = checkpoint.metrics
    assert metrics["trained_on"] == "train + valid targets (refit)" and metrics["refit_epochs"] == metrics["best_epoch"]
    refit = train_sasrec(dataset, CONFIG, progress=False, refit_epochs=metrics["best_epoch"]).model.state_dict()
    for name, weights in checkpoint.model.state_dict().items():
        assert torch.equal(weights, refit[name]), name
    assert set(metrics["before_refit"]) == {"dot", "cosine"}
    seconds = metrics["seconds"]
    assert metrics["total_seconds"] >= seconds["validated"] + seconds["prior_fit"] + seconds["refit"] > 0
    kept, _ = load_or_train(dataset, dataclasses.replace(CONFIG, refit=False), tmp_path, progress=False)
    assert kept.metrics["trained_on"] == "train" and kept.metrics["refit_epochs"] == 0
