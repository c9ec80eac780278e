"""bench/turn_cost.py: per-turn and per-call figures for AF-IRS today vs new and every other method, resumable."""
from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path

import pytest

from test_eval_runner import toy_lm
from toy_world import toy_context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import turn_cost  # noqa: E402


def args_for(tmp_path: Path, **changes) -> Namespace:
    base = {"dataset": "toy", "n_users": 2, "other_users": 1, "methods": ["afirs", "no-refine"], "turns": 2,
            "seed": 0, "time_limit": None, "progress": tmp_path / "sessions.jsonl", "fresh": False, "out": tmp_path,
            "setups": list(turn_cost.SETUPS)}
    return Namespace(**{**base, **changes})


def test_every_setup_and_other_methods_are_measured_per_turn_and_per_call_then_resumed(tmp_path):
    context, lm = toy_context(tmp_path), toy_lm()
    machine = {"tree": "toy", "platform": "test", "cpus": 1, "usable cores": 1, "llama.cpp": "none"}
    sessions = turn_cost.measure(args_for(tmp_path), context, lm, dict(machine))
    assert sorted((s["setup"], s["method"]) for s in sessions) == [
        ("new", "afirs"), ("new", "afirs"), ("new", "no-refine"), ("scored", "afirs"), ("scored", "afirs"),
        ("today", "afirs"), ("today", "afirs")]
    today = next(s for s in sessions if s["setup"] == "today")
    new = next(s for s in sessions if s["setup"] == "new" and s["user"] == today["user"] and s["method"] == "afirs")
    assert today["turns"] and all(t["lm_calls"] == len([c for c in today["calls"] if c["turn"] == t["turn"]])
                                  for t in today["turns"])
    assert "DecideFromEvidence" in {c["step"] for c in new["calls"]}  # new: the decision sees computed facts
    scored = next(s for s in sessions if s["setup"] == "scored" and s["user"] == today["user"])
    assert "RerankShortlist" in {c["step"] for c in scored["calls"]} - {c["step"] for c in new["calls"]}
    assert {"SelectNodes", "DecideAction"} <= {c["step"] for c in today["calls"]}  # today: before issue 15
    assert all(c["prompt_tokens"] > 0 and c["seconds"] >= 0 for s in sessions for c in s["calls"])
    # today talks ChatAdapter (field sections), new the compact JSON adapter: different prompts, same turns
    assert sum(t["prompt_tokens"] for t in today["turns"]) != sum(t["prompt_tokens"] for t in new["turns"])
    results = json.loads((tmp_path / "turn_cost.json").read_text())
    assert [row["setup"] for row in results["afirs"]] == ["today", "scored", "new"] and results["afirs"][0]["users"] == 2
    assert [row["method"] for row in results["methods"]] == ["afirs", "no-refine"]
    assert "median s" in (tmp_path / "turn_cost.md").read_text()

    more = turn_cost.measure(args_for(tmp_path, n_users=3), context, lm, dict(machine))  # resumes: one user more
    assert len(more) == 10 and more[:7] == sessions


def test_progress_from_other_settings_is_refused_unless_fresh(tmp_path):
    context, lm = toy_context(tmp_path), toy_lm()
    machine = {"tree": "toy", "platform": "test", "cpus": 1, "usable cores": 1, "llama.cpp": "none"}
    turn_cost.measure(args_for(tmp_path, n_users=1, other_users=0), context, lm, dict(machine))
    with pytest.raises(SystemExit, match="other settings"):
        turn_cost.measure(args_for(tmp_path, n_users=1, other_users=0, turns=1), context, lm, dict(machine))
    again = turn_cost.measure(args_for(tmp_path, n_users=1, other_users=0, turns=1, fresh=True), context, lm, dict(machine))
    assert len(again) == 3 and all(len(s["turns"]) == 1 for s in again)


def test_only_the_setups_asked_for_are_timed(tmp_path):
    context, lm = toy_context(tmp_path), toy_lm()
    machine = {"tree": "toy", "platform": "test", "cpus": 1, "usable cores": 1, "llama.cpp": "none"}
    sessions = turn_cost.measure(args_for(tmp_path, setups=["new"], methods=["afirs"]), context, lm, dict(machine))
    assert {s["setup"] for s in sessions} == {"new"} and len(sessions) == 2
