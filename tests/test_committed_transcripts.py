"""No committed transcript of this code shows a user again what they turned down (issue 31).

Every session in every JSON-lines file under bench/results is walked turn by turn: the items of each
recommend turn must hold none of the items an earlier recommend turn of the same session showed (the user
went on talking, so they took none of them; no simulated or hand-written user names a shown title).
The transcripts of the program before issue 31, kept as the "before" of a paired comparison, are the
only ones exempt, each named here with what it is kept for.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"

BEFORE_ISSUE_31 = {
    "questions/ml-latest-small-seed0/transcript.jsonl":
        "both arms of issue 22's question benchmark (b101f43 and earlier): the 'before' of memory_sessions.md",
}


def before_issue_31(path: Path) -> bool:
    relative = path.relative_to(RESULTS).as_posix()
    # bench/conversations.py's arm "before" plays the program of b101f43
    return relative in BEFORE_ISSUE_31 or relative.endswith("-before.jsonl")


def repeats(session: dict) -> list[tuple[int, list[int]]]:
    """(turn, items shown again) for each recommend turn that repeats an earlier list's items."""
    shown: set[int] = set()
    found = []
    for number, turn in enumerate(session.get("turns") or [], start=1):
        if not isinstance(turn, dict) or turn.get("action") != "recommend":
            continue
        items = turn.get("items") or []
        again = [item for item in items if item in shown]
        if again:
            found.append((turn.get("turn", number), again))
        shown.update(items)
    return found


TRANSCRIPTS = sorted(p for p in RESULTS.rglob("*.jsonl") if not before_issue_31(p))


def test_the_checker_finds_a_repeat():
    session = {"turns": [{"action": "recommend", "items": [1, 2]}, {"action": "ask", "items": []},
                         {"action": "recommend", "items": [3, 2]}]}
    assert repeats(session) == [(3, [2])]
    assert repeats({"turns": [{"action": "recommend", "items": [1]}, {"action": "recommend", "items": [2]}]}) == []


def test_the_exempt_transcripts_exist():
    for relative in BEFORE_ISSUE_31:
        assert (RESULTS / relative).is_file(), relative


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.relative_to(RESULTS).as_posix())
def test_no_recommend_turn_repeats_a_rejected_item(path):
    problems = []
    for line_number, line in enumerate(path.read_text().splitlines(), start=1):
        record = json.loads(line)
        for turn, again in repeats(record):
            problems.append(f"line {line_number} (user {record.get('user', record.get('id'))}), turn {turn}: {again}")
    assert not problems, "\n".join(problems)
