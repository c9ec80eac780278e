"""Long runs never lose their work: outputs, artifacts and LMs are checked before any work, and ``compile``
saves its sessions and modules as they finish, resumes them, and saves the program elsewhere when it must."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import afirs_dspy.optimize.compile_run as compile_run
import afirs_dspy.lm.opening as lm_opening
import afirs_dspy.optimize.compiler as compiler
from afirs_dspy.cli.compile import compile_command
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.lm_options import open_lm
from afirs_dspy.cli.options import DatasetSpec
from test_eval_runner import toy_lm
from test_optimize_cli import toy  # noqa: F401 (fixture)

ARGS = ["--n-sessions", "4", "--modules", "select,decide,refine", "--no-progress"]


@pytest.fixture
def counted(monkeypatch, toy):  # noqa: F811
    """The toy world with one scripted LM whose calls are counted (it has no response cache)."""
    lm = toy_lm()
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base=None, options=None, engines=None: lm)
    return toy, lm


def calls(lm) -> int:
    return sum(lm.calls.values())


def compile_(root, out, *extra):
    return CliRunner().invoke(compile_command, [*ARGS, "--artifacts-dir", str(root), "--out", str(out), *extra])


def interrupt_after_recording(monkeypatch, error: type[BaseException] = KeyboardInterrupt):
    """Ctrl-C (or ``error``) the moment the recorded sessions are turned into a module's examples."""
    def stop(*args, **kwargs):
        raise error("stopped")
    monkeypatch.setattr(compiler, "build_examples", stop)


def test_a_rerun_after_an_interrupt_skips_the_recorded_sessions(counted, tmp_path, monkeypatch):
    root, lm = counted
    whole = compile_(root, tmp_path / "whole.json")
    assert whole.exit_code == 0, whole.output
    uninterrupted = calls(lm)

    lm.calls.clear()
    with monkeypatch.context() as patch:
        interrupt_after_recording(patch)
        stopped = compile_(root, tmp_path / "p.json")
    assert stopped.exit_code == 130 and "run the same command to continue" in stopped.output
    progress = tmp_path / "p.progress"
    assert len((progress / "recorded.jsonl").read_text().splitlines()) == 4
    recording = calls(lm)
    assert 0 < recording < uninterrupted

    other = compile_(root, tmp_path / "p.json", "--max-turns", "2")
    assert other.exit_code == 1 and "with other max_turns: --fresh starts over" in other.output

    lm.calls.clear()
    resumed = compile_(root, tmp_path / "p.json")
    assert resumed.exit_code == 0, resumed.output
    assert "simulating 4 validation sessions with the program as it is (4 of 4 already saved in" in resumed.output
    assert calls(lm) == uninterrupted - recording
    assert (tmp_path / "p.json").read_text() == (tmp_path / "whole.json").read_text()
    assert not progress.exists()


def test_a_crash_says_where_the_work_is_kept(counted, tmp_path, monkeypatch):
    root, _ = counted
    interrupt_after_recording(monkeypatch, RuntimeError)
    crashed = compile_(root, tmp_path / "p.json")
    assert crashed.exit_code == 1 and isinstance(crashed.exception, RuntimeError)
    assert f"The sessions and modules finished so far are saved in {tmp_path / 'p.progress'}" in crashed.output
    assert len((tmp_path / "p.progress" / "recorded.jsonl").read_text().splitlines()) == 4


def test_fresh_starts_over(counted, tmp_path, monkeypatch):
    root, lm = counted
    with monkeypatch.context() as patch:
        interrupt_after_recording(patch)
        assert compile_(root, tmp_path / "p.json").exit_code == 130
    recording = calls(lm)
    lm.calls.clear()
    with monkeypatch.context() as patch:
        interrupt_after_recording(patch)
        assert compile_(root, tmp_path / "p.json", "--fresh").exit_code == 130
    assert calls(lm) == recording  # recorded again


def test_a_failed_save_leaves_the_program_at_the_fallback_path_and_the_rerun_only_saves(counted, tmp_path,
                                                                                          monkeypatch):
    root, lm = counted
    folder = tmp_path / "programs"
    folder.mkdir()
    target = folder / "afirs-bootstrap.json"  # a folder as --out gets the default name
    real_save = compile_run.save_program

    def full_disk(program, path, manifest):
        if path == target:
            raise OSError(28, "No space left on device")
        return real_save(program, path, manifest)

    with monkeypatch.context() as patch:
        patch.setattr(compile_run, "save_program", full_disk)
        failed = compile_(root, folder)
    fallback = root / "ml-latest-small" / "compiled" / "afirs-bootstrap.recovered.json"
    assert failed.exit_code == 1
    assert f"could not save the program to {target} ([Errno 28] No space left on device); saved it to {fallback}" \
        in failed.output
    assert json.loads(fallback.read_text())["decision_stage.decide"]
    assert (fallback.parent / "afirs-bootstrap.recovered.manifest.json").is_file()
    assert (folder / "afirs-bootstrap.progress" / "reevaluated.jsonl").is_file()

    lm.calls.clear()
    saved = compile_(root, folder)
    assert saved.exit_code == 0, saved.output
    assert calls(lm) == 0 and target.read_text() == fallback.read_text()
    assert not (folder / "afirs-bootstrap.progress").exists()


def no_work(monkeypatch):
    """Fail the test if a command loads data or opens an LM."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the checks")
    monkeypatch.setattr(DatasetSpec, "load", forbidden)
    monkeypatch.setattr(lm_opening, "make_lm", forbidden)


@pytest.mark.parametrize("out, says", [
    ("compiled-program", "--out compiled-program: a file must end in .json (e.g. compiled-program.json), or name a "
                         "folder (e.g. compiled-program/) to get afirs-bootstrap.json in it"),
    ("program.pkl", "a file must end in .json"),
    ("{file}/program.json", "is a file, not a folder"),
])
def test_a_bad_out_fails_at_once_in_one_line(toy, tmp_path, monkeypatch, out, says):  # noqa: F811
    no_work(monkeypatch)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = CliRunner().invoke(compile_command, ["--artifacts-dir", str(toy), "--out", out.format(file=a_file)])
    assert result.exit_code == 1 and says in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_artifacts_and_a_bad_eval_out_fail_before_any_work(tmp_path, monkeypatch):
    no_work(monkeypatch)
    result = CliRunner().invoke(compile_command, ["--artifacts-dir", str(tmp_path)])
    assert result.exit_code == 1 and "afirs-dspy build-tree --dataset ml-latest-small" in result.output
    a_file = tmp_path / "results"
    a_file.write_text("")
    result = CliRunner().invoke(eval_command, ["--out", str(a_file / "run")])
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_remote_lm_that_does_not_answer_is_one_line_before_any_work():
    with pytest.raises(Exception) as failed:
        open_lm("hosted_vllm/some-model", "http://127.0.0.1:9/v1")
    message = failed.value.message
    assert "did not answer a one-token test call" in message and "server at http://127.0.0.1:9/v1" in message
    assert "\n" not in message
