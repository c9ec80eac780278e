"""``afirs-dspy compile``, ``eval --program`` and ``chat`` through click, on the toy world with the scripted LM."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import afirs_dspy.cli.chat as chat
import afirs_dspy.optimize.compile_run as compile_run
import afirs_dspy.evaluation.eval_run as eval_run
import afirs_dspy.lm.opening as lm_opening
import afirs_dspy.compiled.program_file as compiled
from afirs_dspy.cli.chat import chat_command
from afirs_dspy.cli.compile import compile_command
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.options import DatasetSpec
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.transcript import Transcript
from test_eval_runner import toy_lm
from toy_world import toy_context, toy_dataset, write_toy_artifacts


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """Every command sees the toy world; the tree and a stand-in checkpoint lie where manifests hash them."""
    context = toy_context(tmp_path / "cache")
    root = write_toy_artifacts(context, tmp_path / "artifacts")
    monkeypatch.setattr(DatasetSpec, "load", lambda self, force=False: toy_dataset())
    monkeypatch.setattr(compiled, "load_dataset", lambda *args, **kwargs: toy_dataset())
    for module in (compile_run, eval_run, chat, compiled):
        monkeypatch.setattr(module, "load_context", lambda dataset, artifacts_dir=None: context)
    for module in (lm_opening, compiled):
        monkeypatch.setattr(module, "make_lm", lambda spec, api_base=None, options=None, engines=None: toy_lm())
    return root


def test_compile_then_eval_and_chat_with_the_compiled_program(toy, tmp_path):
    program = tmp_path / "out" / "afirs-steam.json"
    result = CliRunner().invoke(compile_command, ["--n-sessions", "4", "--modules", "confirm,decide", "--artifacts-dir",
                                                  str(toy), "--out", str(program), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "| confirm |" in result.output and "| before |" in result.output and "| after |" in result.output
    assert "the program changed" in result.output and f"saved {program}" in result.output
    assert result.output.splitlines()[-1] == f"next: afirs-dspy eval --program {program} --artifacts-dir {toy}"
    manifest = json.loads((program.parent / "afirs-steam.manifest.json").read_text())
    assert manifest["method"] == "afirs" and manifest["optimizer"]["name"] == "bootstrap"
    assert manifest["dataset"]["data_key"] == "toy" and manifest["scores"]["changed"] is True
    assert len(manifest["artifacts"]["tree"]["sha256"]) == 64
    # the simulated users say the attributes' names, so nothing was confirmed: the decision was compiled
    assert json.loads(program.read_text())["decision_stage.decide"]["demos"]

    out = tmp_path / "eval"
    evaluated = CliRunner().invoke(eval_command, ["--program", str(program), "--method", "afirs", "--n-sessions", "2",
                                                  "--artifacts-dir", str(toy), "--out", str(out), "--no-progress"])
    assert evaluated.exit_code == 0, evaluated.output
    assert "| afirs-steam |" in evaluated.output and "| afirs |" in evaluated.output
    config = json.loads((out / "run.json").read_text())
    assert config["methods"] == ["afirs", "afirs-steam"]
    # The manifest lists the users compiled on; eval leaves them out of the test sample (same seed, same order).
    compiled_on = [case.user for case in sample_cases(toy_dataset(), "valid", 4, 0)]
    assert manifest["optimizer"]["users"] == compiled_on and config["excluded_users"] == sorted(compiled_on)
    tested = {record.user for record in Transcript(out / "transcript.jsonl").read()}
    assert len(tested) == 2 and not tested & set(compiled_on)
    assert [c.user for c in sample_cases(toy_dataset(), "test", 2, 0)] == compiled_on[:2]  # what it used to test on
    assert evaluated.output.splitlines()[-1] == f"next: afirs-dspy chat --method afirs --artifacts-dir {toy}"

    talked = CliRunner().invoke(chat_command, ["--program", str(program), "--user", "3", "--verbose"],
                                input="a funny comedy please\nquit\n")
    assert talked.exit_code == 0, talked.output
    assert "as user 3" in talked.output and "recommender> " in talked.output
    assert "action: " in talked.output and "candidates (" in talked.output and "trace: " in talked.output


def test_eval_refuses_a_program_compiled_on_other_artifacts(toy, tmp_path):
    program = tmp_path / "p.json"
    assert CliRunner().invoke(compile_command, ["--n-sessions", "2", "--no-session-eval", "--artifacts-dir", str(toy),
                                                "--out", str(program), "--no-progress"]).exit_code == 0
    (toy / "ml-latest-small" / "tree" / "tree.json").write_text("{}")
    result = CliRunner().invoke(eval_command, ["--program", str(program), "--artifacts-dir", str(toy), "--out",
                                               str(tmp_path / "e"), "--no-progress"])
    assert result.exit_code == 1 and "is not the one the program was compiled with" in result.output


def test_chat_without_a_program_ends_on_end_of_input(toy):
    result = CliRunner().invoke(chat_command, ["--method", "no-refine"], input="something dark\n")
    assert result.exit_code == 0, result.output
    assert "no-refine on ml-latest-small, as a new user" in result.output and result.output.count("recommender> ") == 1


def test_chat_refuses_an_unknown_user(toy):
    result = CliRunner().invoke(chat_command, ["--user", "nobody"], input="")
    assert result.exit_code == 2 and "no user 'nobody' in the test split" in result.output


def test_compile_refuses_unknown_modules():
    result = CliRunner().invoke(compile_command, ["--modules", "select,magic"])
    assert result.exit_code == 2 and "unknown module(s) magic" in result.output
