"""Where a method's turns lost the target: its tool's candidates, their head, the list it showed.

Counts of turns pooled over a method's sessions (as far as each got, errored ones included), so that a reader
sees the base as well as the share:

- recommend turns: and of them, those whose tool's candidates (the list the LM read) held the target; those
  whose candidates ranked it within the first n, n being the length of the list shown; those that showed it;
  and those whose shown list *is* the candidates' first n, in order: the LM's refinement kept the tool's
  ranking, so that it added nothing to it;
- ask turns: and of them, those whose list it would have recommended now held the target (a wrong ask in
  DSR@5's terms).

A recommend turn without candidates (e.g. MACRec before it searched) counts as holding no target. None where
the method passes no candidates at all (no tool) or, for the asks, where an ask lacks the list it would have
recommended (``metrics.decision_correct``).
"""
from __future__ import annotations

from collections.abc import Sequence

from afirs_dspy.evaluation.metrics import candidates_hold, decision_correct, has_candidates
from afirs_dspy.evaluation.records import SessionRecord, TurnRecord

COLUMNS = ("recommend turns", "target in candidates", "target in tool's first n", "target shown",
           "shown = tool's first n", "ask turns", "asks with target in its list")


def _tool_head(turn: TurnRecord) -> list[int]:
    """The candidates' first n, n the number of items shown ([] without candidates)."""
    return (turn.candidates or [])[:len(turn.items)]


def target_funnel(records: Sequence[SessionRecord]) -> dict[str, int | None]:
    """The module doc's counts for one method's sessions, keyed by ``COLUMNS``."""
    recommends = [(turn, r.target) for r in records for turn in r.turns if turn.action == "recommend"]
    asks = [(turn, r.target) for r in records for turn in r.turns if turn.action == "ask"]
    tool = has_candidates(records)
    heads = [(_tool_head(turn), turn, target) for turn, target in recommends]
    asks_right = [decision_correct(turn, target) for turn, target in asks]
    return dict(zip(COLUMNS, (
        len(recommends),
        sum(candidates_hold(turn, target) for turn, target in recommends) if tool else None,
        sum(target in head for head, _, target in heads) if tool else None,
        sum(target in turn.items for turn, target in recommends),
        sum(bool(turn.items) and head == turn.items for head, turn, _ in heads) if tool else None,
        len(asks),
        None if None in asks_right else asks_right.count(False),
    )))
