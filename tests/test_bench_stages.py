"""bench/stages.py on the toy world with a scripted LM: every stage leaves one transcript line per
(stage, arm, case, turn), a second run (also after a cut last line) recomputes only what is missing, and
the report is rebuilt from the transcripts alone."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import dspy

from afirs_dspy.evaluation.sampling import development_cases
from scripted import ScriptedLM, field, listed
from toy_world import toy_context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import stage_report  # noqa: E402
import stages  # noqa: E402

N_CASES = 3
DIALOGUES = [
    {"id": "m1", "domain": "movies", "dialogue": [{"role": "user", "content": "A funny comedy, but no horror please."}],
     "likes": ["funny comedy"], "dislikes": ["horror"], "constraints": []},
    {"id": "m2", "domain": "movies", "dialogue": [{"role": "user", "content": "Something dark and tense."}],
     "likes": ["dark", "tense"], "dislikes": [], "constraints": []},
    {"id": "g1", "domain": "games", "dialogue": [{"role": "user", "content": "A co-op shooter."}],
     "likes": ["co-op shooter"], "dislikes": [], "constraints": []},
]


def pick_named(prompt):
    """SelectNodes: the shown nodes whose last name the user said (else the first)."""
    text = field(prompt, "user_responses").casefold()
    shown = [line.split(". ", 1) for line in listed(prompt, "nodes")]
    picks = [int(n) for n, path in shown if path.split(" > ")[-1].casefold() in text] or [1]
    return {"selected": json.dumps(picks)}


def scripted_lm():
    return ScriptedLM({
        "[[ ## nodes ## ]]": pick_named,
        "`[[ ## preferences ## ]]`": {"preferences": json.dumps(
            {"likes": ["funny"], "dislikes": ["horror"], "constraints": ["released after 2010"]})},
        "[[ ## candidates ## ]]": {"selected": "[3, 1, 2]"},
        "[[ ## items ## ]]": {"reason": "they fit", "action": "recommend"},
    })


def run(context, out, split="test"):
    sample = development_cases(context.dataset, N_CASES, 0, split)
    stages.run_dataset(context, split, sample, 0, set(stages.STAGES), out, deadline=None)


def test_stages_transcript_resume_and_report(tmp_path, monkeypatch):
    dialogues = tmp_path / "dialogues.json"
    dialogues.write_text(json.dumps({"dialogues": DIALOGUES}))
    monkeypatch.setattr(stages, "DIALOGUES", dialogues)
    context = toy_context(tmp_path)
    lm = scripted_lm()
    with dspy.context(lm=lm):
        run(context, tmp_path)
        test_file = stages.transcript_path(tmp_path, "ml-latest-small", "test")
        lines = [json.loads(line) for line in test_file.read_text().splitlines()]
        keys = [(l["stage"], l["arm"], l["case"], l["turn"]) for l in lines]
        assert len(keys) == len(set(keys))
        for arm in stages.ARMS:
            mine = [l for l in lines if l["arm"] == arm]
            count = {stage: sum(l["stage"] == stage for l in mine) for stage in stages.STAGES}
            # The toy catalog is smaller than 50, so the target is always among the candidates and refined.
            assert count == {"summary": 0, "extraction": 2 * N_CASES, "candidates": 2 * N_CASES,
                             "refinement": N_CASES, "decision": N_CASES}
        summaries = stages.transcript_path(tmp_path, "ml-latest-small", "summary").read_text().splitlines()
        assert len(summaries) == 2 * len(stages.ARMS)  # the movie dialogues only, both arms
        turn2 = next(l for l in lines if l["stage"] == "extraction" and l["turn"] == 2)
        turn1 = next(l for l in lines if l["stage"] == "extraction" and l["turn"] == 1 and l["case"] == turn2["case"])
        # Turn 2: the opener, then the simulator's answer to the generic question.
        assert turn2["text"].startswith(turn1["text"] + "\n") and set(turn1["spoken"]) <= set(turn2["spoken"])

        calls = sum(lm.calls.values())
        run(context, tmp_path)
        assert sum(lm.calls.values()) == calls and len(test_file.read_text().splitlines()) == len(lines)

        cut = test_file.read_text()
        test_file.write_text(cut[: cut.rstrip("\n").rfind("\n") + 40])  # a kill in the middle of the last line
        run(context, tmp_path)
        assert sum(lm.calls.values()) == calls + 1  # only the last decision is asked again
        run(context, tmp_path, "valid")

    stage_report.write_report(tmp_path, ["ml-latest-small"], 0, {"lm": "scripted", "arms": stages.ARMS})
    payload = json.loads((tmp_path / "stages.json").read_text())["datasets"]["ml-latest-small"]
    assert {row["stage"]: row["before"] for row in payload["reached"]} == {
        "extraction": 2 * N_CASES, "candidates": 2 * N_CASES, "refinement": N_CASES, "decision": N_CASES, "summary": 2}
    assert payload["thresholds"]["after"] is not None  # chosen on the validation run
    summary = {row["figure"]: row for row in payload["tables"]["summary"]}
    # The LM's "released after 2010" in both dialogues; the checked summary ("after") drops it.
    assert summary["invented constraints (must be 0)"]["before"] == 2
    assert summary["invented constraints (must be 0)"]["after"] == 0
    assert summary["dislikes recall"]["before"]["value"] == 1.0  # "horror" found in the one dialogue with dislikes
    decision = {row["figure"]: row for row in payload["tables"]["decision"]}
    accuracy = decision["DecideAction: accuracy"]["after"]
    assert accuracy["n"] == N_CASES and 0 <= accuracy["ci95"][0] <= accuracy["value"] <= accuracy["ci95"][1] <= 1
    assert "### refinement" in (tmp_path / "stages.md").read_text()


def test_hand_written_dialogues_cover_both_domains():
    dialogues = json.loads(stages.DIALOGUES.read_text())["dialogues"]
    assert len(dialogues) >= 40 and len({d["id"] for d in dialogues}) == len(dialogues)
    assert {stages.DOMAIN_OF[name] for name in stages.DATASETS} == {d["domain"] for d in dialogues}
    said = [" ".join(t["content"] for t in d["dialogue"] if t["role"] == "user") for d in dialogues]
    # Every expected phrase is in the user's own words, so a summary can be judged against them.
    assert all(stage_report.phrases_match(p, text) or p.casefold() in text.casefold()
               for d, text in zip(dialogues, said) for k in ("likes", "dislikes", "constraints") for p in d[k])


def test_phrase_match_rule():
    assert stage_report.phrases_match("zombie comedies", "zombies")
    assert stage_report.phrases_match("not horror", "horror films")
    assert not stage_report.phrases_match("slow pacing", "fast action")
    assert not stage_report.phrases_match("a movie", "movies")  # no content words left
