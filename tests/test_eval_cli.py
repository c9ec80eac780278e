"""``afirs-dspy eval`` through click: help, user errors, and a whole run on the toy world with a scripted LM."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import afirs_dspy.cli.evaluate as evaluate
import afirs_dspy.cli.lm_options as lm_options
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.options import DatasetSpec
from test_eval_runner import toy_lm
from toy_world import toy_context, toy_dataset


@pytest.fixture
def toy_data(monkeypatch):
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())


@pytest.fixture
def toy_world(monkeypatch, tmp_path, toy_data):
    context = toy_context(tmp_path / "tree")
    monkeypatch.setattr(evaluate, "load_context", lambda dataset, artifacts_dir: context)
    monkeypatch.setattr(lm_options, "make_lm", lambda spec, api_base, engines=None: toy_lm())


def test_help_lists_the_options():
    result = CliRunner().invoke(eval_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--method", "--simulator", "--n-sessions", "--split", "--seed", "--num-threads", "--lm",
                   "--sim-lm", "--out", "--resume", "--baseline"):
        assert option in result.output


def test_no_tree_is_a_one_line_error_naming_the_command(tmp_path, toy_data):
    result = CliRunner().invoke(eval_command, ["--artifacts-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no preference tree at" in result.output and "afirs-dspy build-tree --dataset ml-latest-small" in result.output


def test_unknown_methods_are_refused():
    result = CliRunner().invoke(eval_command, ["--method", "afirs,magic"])
    assert result.exit_code == 2 and "unknown method(s) magic" in result.output


def test_a_whole_run_then_resume_and_refusals(tmp_path, toy_world):
    out = tmp_path / "out"
    args = ["--method", "afirs,no-refine", "--n-sessions", "4", "--out", str(out), "--no-progress",
            "--n-candidates", "6", "--n-recommend", "3"]
    first = CliRunner().invoke(eval_command, args)
    assert first.exit_code == 0, first.output
    assert "| Method | SR@1 | SR@3 | SR@5 | AT | DSR@5 | HR@6 | sessions | errored |" in first.output
    assert "Paired tests against no-refine" in first.output and "8 sessions run in" in first.output
    for name in ("results.md", "results.csv", "results.json", "sr_curve.png", "run.json", "transcript.jsonl"):
        assert (out / name).is_file()
    assert len((out / "transcript.jsonl").read_text().splitlines()) == 8
    assert json.loads((out / "run.json").read_text())["methods"] == ["afirs", "no-refine"]

    again = CliRunner().invoke(eval_command, args)
    assert again.exit_code == 1 and "already holds a run" in again.output

    resumed = CliRunner().invoke(eval_command, [*args, "--resume"])
    assert resumed.exit_code == 0 and "0 sessions run" in resumed.output and "8 taken from the transcript" in resumed.output
    table = lambda text: text[text.index("| Method"):text.index("Paired tests")]  # noqa: E731
    assert table(resumed.output) == table(first.output)

    other = CliRunner().invoke(eval_command, [*args, "--resume", "--seed", "1"])
    assert other.exit_code == 1 and "seed: 0 there, 1 now" in other.output


def test_a_time_limit_of_zero_runs_nothing_and_resume_runs_it_all(tmp_path, toy_world):
    args = ["--method", "afirs,no-refine", "--n-sessions", "2", "--out", str(tmp_path / "out"), "--no-progress",
            "--n-candidates", "6", "--n-recommend", "3"]
    limited = CliRunner().invoke(eval_command, [*args, "--time-limit", "0"])
    assert limited.exit_code == 0, limited.output
    assert "time limit reached: 4 sessions not run" in limited.output and "0 sessions run" in limited.output
    suggested = limited.output.splitlines()[-1]
    assert suggested.startswith("next: afirs-dspy eval --resume --method afirs,no-refine --n-sessions 2")
    assert f"--out {tmp_path / 'out'}" in suggested and "--overwrite" not in suggested
    resumed = CliRunner().invoke(eval_command, [*args, "--resume"])
    assert resumed.exit_code == 0 and "4 sessions run" in resumed.output and "time limit" not in resumed.output
    assert resumed.output.splitlines()[-1] == "next: afirs-dspy chat --method afirs"
