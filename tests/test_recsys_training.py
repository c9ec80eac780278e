"""A short real training run on ml-latest-small, and the train-recsys command."""
import dataclasses

import pytest
from click.testing import CliRunner

from afirs_dspy.cli.train_recsys import train_recsys
from afirs_dspy.data import load_dataset
from afirs_dspy.recsys.config import default_config
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.trainer import train_sasrec
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_short_training_beats_popularity(cache_dir):
    dataset = load_dataset("ml-latest-small", cache_dir=cache_dir)
    # Shorter inputs and twice the steps per epoch of the defaults; one evaluation, at the end.
    config = dataclasses.replace(default_config(dataset.name), max_len=50, batch_size=64, max_epochs=8,
                                 eval_every=8)
    result = train_sasrec(dataset, config, progress=False)
    popularity = PopularityRanker.from_sequences(list(dataset.train["sequence"]), dataset.n_items)
    for split in (dataset.valid, dataset.test):
        ours = evaluate(SASRecRanker(result.model), split)["NDCG@10"]
        assert ours > 1.3 * evaluate(popularity, split)["NDCG@10"]


def test_train_recsys_command_trains_then_reloads(cache_dir, tmp_path):
    args = ["--epochs", "1", "--device", "cpu", "--quiet", "--artifacts-dir", str(tmp_path),
            "--cache-dir", str(cache_dir)]
    first = CliRunner().invoke(train_recsys, args)
    assert first.exit_code == 0, first.output
    assert "trained (no checkpoint yet)" in first.output and "popularity" in first.output
    assert (tmp_path / "ml-latest-small" / "sasrec" / "model.pt").exists()
    assert first.output.splitlines()[-1] == f"next: afirs-dspy build-tree --cache-dir {cache_dir} --artifacts-dir {tmp_path}"
    second = CliRunner().invoke(train_recsys, args)
    assert second.exit_code == 0 and "loaded from" in second.output
    assert first.output.splitlines()[-6:] == second.output.splitlines()[-6:]  # same metrics table


def test_train_recsys_reports_user_errors_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = CliRunner().invoke(train_recsys, ["--device", "cuda", "--artifacts-dir", str(tmp_path)])
    assert result.exit_code != 0 and "no CUDA GPU" in result.output
    assert "Traceback" not in result.output
