"""What a newcomer sees: chat's stage lines and spinner in a terminal, --quiet, --version, the next command."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

import afirs_dspy.cli.tree as tree_cli
import afirs_dspy.lm.model_files as model_files
import afirs_dspy.lm.opening as lm_opening
from afirs_dspy.cli import main
from afirs_dspy.cli.chat import chat_command
from afirs_dspy.cli.tree import build_tree_command
from afirs_dspy.cli.turn_progress import SPINNER
from afirs_dspy.lm import LMOptions, make_lm
from afirs_dspy.lm.model_files import DEFAULT_LOCAL_MODEL, LOCAL_MODELS
from test_eval_runner import toy_lm
from test_optimize_cli import toy  # noqa: F401  (fixture)
from toy_world import toy_dataset, toy_tree

DRIVER = Path(__file__).parent / "chat_in_toy_world.py"
# User 3 of the toy world has seen 5 of the 24 items.
STAGE_LINES = ("extracted: Genre > Main genres > Comedy; Mood > Feel > funny",  # each word of "funny comedy"
               "in force: Genre > Main genres > Comedy; Mood > Feel > funny",  # what the session holds now
               "ranked 19 candidates (2 with every preference, 17 with some)",
               "decided: recommend")  # the preference score orders the candidates: no LM refinement step


class Terminal:
    """A process on a pseudo-terminal: what it wrote so far, and typing into it."""

    def __init__(self, *command: str):
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, close_fds=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"})
        os.close(child)
        self.output, self.seen = "", 0

    def expect(self, text: str, timeout: float = 120) -> str:
        """Read until ``text`` appears after the last one expected; returns the output up to its end."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.seen:]:
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s; got:\n{self.output}"
            if select.select([self.fd], [], [], 0.5)[0]:
                try:
                    self.output += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    assert text in self.output[self.seen:], f"no {text!r} before exit; got:\n{self.output}"
        start, self.seen = self.seen, self.output.index(text, self.seen) + len(text)
        return self.output[start:self.seen]

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=60)
        finally:
            os.close(self.fd)


def test_chat_in_a_terminal_shows_each_stage_and_a_spinner_before_the_reply(tmp_path):
    terminal = Terminal(sys.executable, str(DRIVER), str(tmp_path), "0.3", "--method", "afirs", "--user", "3")
    try:
        terminal.expect("you> ")
        terminal.type("a funny comedy please")
        turn = terminal.expect("recommender> ")
        terminal.expect("you> ")
        terminal.type("quit")
        assert terminal.close() == 0, terminal.output
    finally:
        terminal.process.kill()
    reply = turn.index("recommender> ")
    positions = [turn.find(line) for line in STAGE_LINES]
    assert all(0 <= p < reply for p in positions), turn
    assert positions == sorted(positions), turn
    assert "s)\r\n" in turn  # each stage line ends with its seconds
    assert "deciding… " in turn and any(frame in turn for frame in SPINNER)  # it drew while the slow LM worked
    assert "Traceback" not in terminal.output


def test_chat_without_a_terminal_prints_stage_lines_but_no_spinner_and_quiet_prints_neither(toy):
    shown = CliRunner().invoke(chat_command, ["--user", "3"], input="a funny comedy please\n")
    assert shown.exit_code == 0, shown.output
    assert all(line in shown.output for line in STAGE_LINES), shown.output
    assert "\x1b[K" not in shown.output and "…" not in shown.output
    quiet = CliRunner().invoke(chat_command, ["--user", "3", "--quiet"], input="a funny comedy please\n")
    assert quiet.exit_code == 0, quiet.output
    assert "recommender> " in quiet.output and not any(line in quiet.output for line in STAGE_LINES)


def test_chat_says_which_steps_the_program_repaired(toy, monkeypatch):
    lm = toy_lm()
    lm.rules["[[ ## nodes ## ]]"] = {"selected": "[99]"}  # never among the proposals
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base=None, options=None, engines=None: lm)
    result = CliRunner().invoke(chat_command, ["--user", "3"], input="a funny comedy please\n")
    assert result.exit_code == 0, result.output
    assert "LM output repaired: confirm fallback" in result.output


def test_version_names_the_versions_the_cpu_code_and_the_model_state_without_hashing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AFIRS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(model_files, "file_sha256", lambda path: (_ for _ in ()).throw(AssertionError("hashed")))
    model = LOCAL_MODELS[DEFAULT_LOCAL_MODEL]
    before = CliRunner().invoke(main, ["--version"])
    assert before.exit_code == 0, before.output
    lines = before.output.splitlines()
    assert lines[0].startswith("afirs-dspy ") and lines[1].startswith("dspy 3.")
    assert lines[2].startswith("llama-cpp-python ") and lines[3].startswith("llama.cpp CPU backend: ")
    assert lines[4].startswith(f"embedded model {model.name} (")
    assert "not joined yet" in lines[4] or "not installed" in lines[4]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / f"{model.name}.gguf").write_bytes(b"truncated")
    partial = CliRunner().invoke(main, ["--version"]).output
    assert f"has 9 bytes, not {model.size_bytes:,}" in partial


def test_build_tree_names_the_next_command_with_the_options_that_carry_over(monkeypatch, tmp_path):
    monkeypatch.setattr(tree_cli.DatasetSpec, "load", lambda self, force=False: toy_dataset())
    monkeypatch.setattr(tree_cli, "load_tree", lambda dataset, artifacts_dir=None: toy_tree(dataset.items))
    result = CliRunner().invoke(build_tree_command, ["--artifacts-dir", str(tmp_path), "--lm", "openai/x",
                                                     "--categories", "9"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"next: afirs-dspy compile --lm openai/x --artifacts-dir {tmp_path}"


def test_an_lm_that_stays_unreachable_ends_chat_with_one_line(toy, monkeypatch):
    unreachable = make_lm("openai/some-model", "http://127.0.0.1:9/v1", options=LMOptions(num_retries=0, cache=False))
    monkeypatch.setattr(lm_opening, "make_lm", lambda spec, api_base=None, options=None, engines=None: unreachable)
    result = CliRunner().invoke(main, ["chat", "--user", "3", "--quiet"], input="a funny comedy please\n")
    assert result.exit_code == 1 and "Error: LM openai/some-model at http://127.0.0.1:9/v1 failed" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
