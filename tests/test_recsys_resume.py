"""SASRec training is saved after every epoch: an interrupted training keeps its best model so far and resumes
to the result an uninterrupted one gives."""
from __future__ import annotations

import importlib

import pytest
import torch
from click.testing import CliRunner

import afirs_dspy.recsys.trainer as trainer
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.cli.train_recsys import train_recsys
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.trainer import train_sasrec
from afirs_dspy.recsys.training_state import describe_training_state
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

train_cli = importlib.import_module("afirs_dspy.cli.train_recsys")  # the package exports the command by that name
CONFIG = SASRecConfig(max_len=8, hidden_size=16, n_blocks=1, batch_size=16, max_epochs=4, patience=10, dropout=0.2)


@pytest.fixture(scope="module")
def dataset():
    return synthetic_dataset(n_users=60, n_items=30, length=8)


def interrupt_at_evaluation(monkeypatch, number: int, error: type[BaseException] = KeyboardInterrupt) -> None:
    """Ctrl-C (or ``error``) during the ``number``-th validation of a training (its epoch trained, not finished)."""
    real, seen = trainer.evaluate, []

    def evaluate(*args, **kwargs):
        seen.append(1)
        if len(seen) == number:
            raise error
        return real(*args, **kwargs)
    monkeypatch.setattr(trainer, "evaluate", evaluate)


def test_an_interrupted_training_resumes_to_the_uninterrupted_result(dataset, tmp_path, monkeypatch):
    whole = train_sasrec(dataset, CONFIG, progress=False)
    state = tmp_path / "state.pt"
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 3)
        with pytest.raises(KeyboardInterrupt):
            train_sasrec(dataset, CONFIG, progress=False, state_path=state)
    assert describe_training_state(state).startswith("epoch 2 (best so far: epoch ")

    resumed = train_sasrec(dataset, CONFIG, progress=False, state_path=state)
    assert resumed.resumed_after == 2 and whole.resumed_after == 0
    assert resumed.best_epoch == whole.best_epoch and resumed.best_valid == whole.best_valid
    assert [e["loss"] for e in resumed.epochs] == [e["loss"] for e in whole.epochs]
    for name, weights in whole.model.state_dict().items():
        assert torch.equal(weights, resumed.model.state_dict()[name]), name


def test_a_crash_keeps_the_last_periodic_save(dataset, tmp_path, monkeypatch):
    state = tmp_path / "state.pt"
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 3, RuntimeError)
        with pytest.raises(RuntimeError):
            train_sasrec(dataset, CONFIG, progress=False, state_path=state)  # the first save is due after 60 s
    assert not state.exists()
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 3, RuntimeError)
        with pytest.raises(RuntimeError):
            train_sasrec(dataset, CONFIG, progress=False, state_path=state, save_every=0)
    assert describe_training_state(state).startswith("epoch 2 ")


def test_a_state_of_another_config_is_not_resumed(dataset, tmp_path):
    state = tmp_path / "state.pt"
    train_sasrec(dataset, CONFIG, progress=False, state_path=state, save_every=0)
    other = train_sasrec(dataset, SASRecConfig(**{**CONFIG.to_dict(), "seed": 7}), progress=False, state_path=state)
    assert other.resumed_after == 0 and len(other.epochs) == CONFIG.max_epochs


def test_train_recsys_keeps_the_best_so_far_on_ctrl_c_and_resumes(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: dataset)
    monkeypatch.setattr(train_cli, "default_config", lambda name, **overrides: CONFIG)
    args = ["--artifacts-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    state = tmp_path / "synthetic" / "sasrec-training.pt"
    with monkeypatch.context() as patch:
        interrupt_at_evaluation(patch, 2)
        stopped = CliRunner().invoke(train_recsys, args)
    assert stopped.exit_code == 130
    assert "the training up to epoch 1 (best so far: epoch 1, valid NDCG@10 " in stopped.output
    assert f"is kept in {state}: run the same command to resume it" in stopped.output
    assert not (tmp_path / "synthetic" / "sasrec").exists()

    resumed = CliRunner().invoke(train_recsys, args)
    assert resumed.exit_code == 0, resumed.output
    assert f"trained (no checkpoint yet); resumed after epoch 1 from {state}" in resumed.output
    assert (tmp_path / "synthetic" / "sasrec" / "model.pt").is_file() and not state.exists()


def test_train_recsys_refuses_an_artifacts_dir_under_a_file(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    result = CliRunner().invoke(train_recsys, ["--artifacts-dir", str(a_file / "artifacts"), "--device", "cpu"])
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1
