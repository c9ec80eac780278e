"""``afirs-dspy eval`` through click: help, user errors, and a whole run on the toy world with a scripted LM."""
from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

import afirs_dspy
import afirs_dspy.evaluation.eval_run as eval_run
import afirs_dspy.lm.opening as lm_opening
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.evaluation.transcript import Transcript
from test_eval_runner import toy_lm
from toy_world import toy_context, toy_dataset


@pytest.fixture
def toy_data(monkeypatch):
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())


@pytest.fixture
def toy_world(monkeypatch, tmp_path, toy_data):
    context = toy_context(tmp_path / "tree")
    monkeypatch.setattr(eval_run, "load_context", lambda dataset, artifacts_dir: context)
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base, options=None, engines=None: toy_lm())


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
    assert "| Method | SR@1 | SR@3 | SR@5 | AT | DSR@5 | HR@6 first turn | HR@6 per turn | sessions | errors |" in first.output
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
    assert other.exit_code == 1 and "seed: 0 there, 1 now" in other.output and "start fresh with --overwrite" in other.output


ARGS = ["--method", "afirs,no-refine", "--n-sessions", "2", "--no-progress", "--n-candidates", "6", "--n-recommend", "3"]


def test_run_json_ties_the_run_to_the_code_programs_and_simulator(tmp_path, toy_world):
    out = tmp_path / "out"
    assert CliRunner().invoke(eval_command, [*ARGS, "--out", str(out), "--api-base", "http://lm:8000/v1"]).exit_code == 0
    config = json.loads((out / "run.json").read_text())
    assert config["version"] == afirs_dspy.__version__ and len(config["code"]) == 16 and "git_commit" in config
    assert config["api_base"] == "http://lm:8000/v1" and config["sim_api_base"] is None
    assert config["simulator_settings"] == {"name": "attribute", "class": "AttributeSimulators", "seed": 0, "world": {
        "domain": "movies", "config": {"min_support": 5, "n_open": 2, "n_answer": 1, "min_open_items": 51,
                                       "general_first": True}}}
    hashes = config["program_hashes"]
    assert set(hashes) == {"afirs", "no-refine"} and hashes["afirs"] != hashes["no-refine"]
    records = Transcript(out / "transcript.jsonl").read()
    assert len(records) == 4 and all(r.program_hash == hashes[r.method] for r in records)


def test_resume_refuses_other_code_or_program_state(tmp_path, toy_world, monkeypatch):
    args = [*ARGS, "--out", str(tmp_path / "out")]
    assert CliRunner().invoke(eval_command, args).exit_code == 0
    built = eval_run.build_program
    monkeypatch.setattr(eval_run, "build_program", lambda method, context, config: built(
        method, context, dataclasses.replace(config, top_children=3)))  # an AFIRSConfig switch changed
    changed = CliRunner().invoke(eval_command, [*args, "--resume"])
    assert changed.exit_code == 1 and "program_hashes:" in changed.output and "start fresh with --overwrite" in changed.output
    monkeypatch.setattr(eval_run, "build_program", built)
    monkeypatch.setattr(eval_run, "code_provenance", lambda: {"version": "0.1.0", "git_commit": None, "code": "edited"})
    edited = CliRunner().invoke(eval_command, [*args, "--resume"])
    assert edited.exit_code == 1 and "code: " in edited.output and len(edited.output.strip().splitlines()) == 1


def test_resume_refuses_a_transcript_it_cannot_check(tmp_path, toy_world):
    out = tmp_path / "out"
    args = [*ARGS, "--out", str(out), "--resume"]
    assert CliRunner().invoke(eval_command, args).exit_code == 0
    lines = (out / "transcript.jsonl").read_text().splitlines()
    foreign = json.loads(lines[0]) | {"program_hash": "0123456789abcdef"}
    (out / "transcript.jsonl").write_text("\n".join([json.dumps(foreign), *lines[1:]]) + "\n")
    mixed = CliRunner().invoke(eval_command, args)
    assert mixed.exit_code == 1 and "other program states" in mixed.output and "start fresh" in mixed.output
    (out / "run.json").unlink()
    unchecked = CliRunner().invoke(eval_command, args)
    assert unchecked.exit_code == 1 and "has no run.json" in unchecked.output and "--overwrite" in unchecked.output
    assert CliRunner().invoke(eval_command, [*ARGS, "--out", str(out), "--overwrite"]).exit_code == 0


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
    assert resumed.exit_code == 0, resumed.output
    assert "4 sessions run" in resumed.output and "time limit" not in resumed.output
    assert resumed.output.splitlines()[-1] == "next: afirs-dspy chat --method afirs"
