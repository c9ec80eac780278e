"""bench/code_change.py: both arms run as commits on the development users, and their sessions are paired."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from test_eval_significance import _session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import code_change  # noqa: E402
from evidence_checkout import CheckoutError, PinnedCode, this_checkout  # noqa: E402

AFTER = "b" * 40


def test_both_arms_run_on_the_development_users_and_are_paired_by_user(tmp_path, monkeypatch):
    monkeypatch.setattr(code_change, "OUT", tmp_path)
    monkeypatch.setattr(code_change, "checkout", lambda commit, repo: PinnedCode(commit, "digest", Path("/pinned/python")))
    monkeypatch.setattr(code_change, "this_checkout", lambda repo: PinnedCode(AFTER, "digest", Path(sys.executable)))
    # Turn the target was found on (None: never); user 4 has no "after" session and is left out.
    found = {"before": {"1": None, "2": 3, "3": 1, "4": 1}, "after": {"1": 2, "2": 2, "3": 1}}
    ran = []

    def execute(command: list[str]) -> int:
        ran.append(command)
        out = Path(command[command.index("--out") + 1])
        for user, turn in found[out.name].items():
            Transcript(out / TRANSCRIPT).append(_session(user, turn, "afirs"))
        return 0

    code_change.main(["--before", "HEAD", "--dataset", "steam", "--n-sessions", "4", "--name", "toy"], execute)
    before, after = ran
    assert before[:4] == ["/pinned/python", "-P", "-m", "afirs_dspy.cli"] and after[0] == sys.executable
    for command in ran:
        arguments = " ".join(command)
        assert "eval --dataset steam --method afirs --simulator attribute --n-sessions 4 --users development" in arguments
        assert "--resume" in command
    result = json.loads((tmp_path / "toy.json").read_text())
    assert result["users"] == 3 and result["commits"]["after"] == AFTER
    assert result["arms"]["before"]["SR@5"] == pytest.approx(2 / 3) and result["arms"]["after"]["SR@5"] == 1.0
    assert result["paired"]["mcnemar"]["SR@5"] | {"p": None} == {"b": 1, "c": 0, "delta": pytest.approx(1 / 3), "p": None}
    assert result["paired"]["mcnemar"]["SR@3"]["b"] == 1  # user 1 only after the change; user 2 by turn 3 in both
    assert "AT after − before: -1.67" in (tmp_path / "toy.md").read_text()


def test_the_after_arm_is_this_checkout_as_a_commit_whatever_results_change(tmp_path):
    def git(*arguments):
        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "programs").mkdir()
    (tmp_path / "programs" / "afirs.py").write_text("x = 1\n")
    (tmp_path / "results.md").write_text("an evidence run's transcript\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    (tmp_path / "results.md").write_text("an evidence run's transcript, appended while it runs\n")
    assert len(this_checkout(tmp_path).commit) == 40
    (tmp_path / "programs" / "afirs.py").write_text("x = 2\n")
    with pytest.raises(CheckoutError, match="commit the package first"):
        this_checkout(tmp_path)
