"""The paper's metrics (5.1.4, 5.4) and the run's costs, as pure functions over session records.

Every session counts: one that errored (an exception escaped the program or simulator) is a failure,
so a method cannot gain by crashing on hard users; ``costs`` alone reads only the finished ones.

- SR@t: share of sessions whose target was recommended (accepted) at turn t or earlier.
- AT: mean turns per session; a failed session counts as ``max_turns + 1`` (6 for 5 turns), so AT
  above 5 means most sessions failed, as for the weak methods of the paper's Table 2.
- DSR@t: share of correct decisions over all program turns up to turn t, pooled over sessions: to
  recommend is correct when the target is among the recommended items, to ask is correct when the
  target is not in the list the method would recommend now (its ``preselected``). None when a turn
  lacks that list (methods that decide first, or have no tool, do not compute it when they ask): their
  asks cannot be judged, and judging only their recommendations would not be the same metric.
- HR@n: whether the candidates the tool passed to the LM (paper 5.4.2, n = 50) contain the target,
  (a) on the first turn, over all sessions, and (b) per turn, as the mean over sessions of each session's
  share of turns with a hit, so that long failed sessions weigh no more than short ones. Both have the
  sessions as denominator for every method; a turn without candidates (e.g. MACRec before it searched)
  or an errored session is a miss. None for methods that never pass candidates (no tool).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord, Usage


def ok(records: Sequence[SessionRecord]) -> list[SessionRecord]:
    return [r for r in records if r.status == "ok"]


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def succeeded_by(record: SessionRecord, t: int) -> bool:
    return record.success_turn is not None and record.success_turn <= t


def success_rate(records: Sequence[SessionRecord], t: int) -> float | None:
    return _mean([succeeded_by(r, t) for r in records])


def turns_taken(record: SessionRecord, max_turns: int) -> int:
    return record.success_turn if record.success_turn is not None else max_turns + 1


def average_turns(records: Sequence[SessionRecord], max_turns: int) -> float | None:
    return _mean([turns_taken(r, max_turns) for r in records])


def decision_correct(turn: TurnRecord, target: int) -> bool | None:
    """Whether the turn's decision was right; None when an ask comes without the list it would recommend."""
    shown = turn.items if turn.action == "recommend" else turn.preselected
    return None if shown is None else (turn.action == "recommend") == (target in shown)


def decision_success_rate(records: Sequence[SessionRecord], t: int = 5) -> float | None:
    judged = [decision_correct(turn, r.target) for r in records for turn in r.turns if turn.turn <= t]
    return None if None in judged else _mean(judged)


def has_candidates(records: Sequence[SessionRecord]) -> bool:
    return any(turn.candidates is not None for r in records for turn in r.turns)


def candidates_hold(turn: TurnRecord, target: int) -> bool:
    return turn.candidates is not None and target in turn.candidates


def first_turn_hit_rate(records: Sequence[SessionRecord]) -> float | None:
    """Share of sessions whose first turn's candidates hold the target (None: the method passes none)."""
    if not has_candidates(records):
        return None
    return _mean([bool(r.turns) and candidates_hold(r.turns[0], r.target) for r in records])


def per_turn_hit_rate(records: Sequence[SessionRecord]) -> float | None:
    """Mean over sessions of the share of a session's turns whose candidates hold the target."""
    if not has_candidates(records):
        return None
    return _mean([np.mean([candidates_hold(turn, r.target) for turn in r.turns]) if r.turns else 0.0 for r in records])


def success_curve(records: Sequence[SessionRecord], max_turns: int) -> list[float | None]:
    """SR@1 … SR@max_turns."""
    return [success_rate(records, t) for t in range(1, max_turns + 1)]


def _errors(turns: list[TurnRecord], prefix: str) -> int:
    return sum(str(e).startswith(prefix) for turn in turns for event in turn.trace for e in event.get("errors", []))


def _per(total: float, count: int) -> float | None:
    return total / count if count else None


def costs(records: Sequence[SessionRecord]) -> dict:
    """LM calls, tokens and wall time per turn and per session (program and simulator apart), parse
    failures (outputs DSPy could not parse), invalid outputs (parsed but breaking the contract), retried
    steps and fallbacks from the programs' traces, and the simulator's own counts.

    A response from DSPy's cache costs nothing, so tokens and seconds are what a method run afresh would
    spend: its LM calls per turn (session) times the mean tokens and seconds of its calls that reached
    the model (``model_calls``, from turns where that count was recorded)."""
    done = ok(records)
    turns = [turn for r in done for turn in r.turns]
    program = [turn.program_usage for turn in turns]
    calls = sum(u.lm_calls for u in program)
    metered = [u for u in program if u.model_calls]
    uncached = sum(u.model_calls for u in metered)

    def fresh(cost: Callable[[Usage], float], count: int) -> float | None:
        """Every call priced at the mean cost of the calls that reached the model, per ``count``."""
        return calls * sum(map(cost, metered)) / uncached / count if uncached and count else None

    simulator = [turn.simulator_usage for turn in turns] + [r.opener_usage for r in done]
    sim_stats = [r.simulator_stats for r in done]
    events = [event for turn in turns for event in turn.trace]
    return {
        "sessions": len(done),
        "errors": len(records) - len(done),
        "turns": len(turns),
        "lm_calls_per_turn": _per(calls, len(turns)),
        "uncached_calls": uncached,
        "prompt_tokens_per_turn": fresh(lambda u: u.prompt_tokens, len(turns)),
        "completion_tokens_per_turn": fresh(lambda u: u.completion_tokens, len(turns)),
        "seconds_per_turn": fresh(lambda u: u.seconds, len(turns)),
        "lm_calls_per_session": _per(calls, len(done)),
        "tokens_per_session": fresh(lambda u: u.prompt_tokens + u.completion_tokens, len(done)),
        "seconds_per_session": fresh(lambda u: u.seconds, len(done)),
        "simulator_lm_calls_per_session": _per(sum(u.lm_calls for u in simulator), len(done)),
        "simulator_tokens_per_session": _per(sum(u.prompt_tokens + u.completion_tokens for u in simulator), len(done)),
        "parse_failures": _errors(turns, "AdapterParseError"),
        "invalid_outputs": _errors(turns, "InvalidOutput"),
        "retried_steps": sum(e.get("status") == "retried" for e in events),
        "fallbacks": sum(e.get("status") == "fallback" for e in events),
        **{f"simulator_{k}": sum(s.get(k, 0) for s in sim_stats)
           for k in ("leaks", "regenerations", "stripped", "parse_failures", "fallbacks")},
    }


def summarize(records: Sequence[SessionRecord], max_turns: int, dsr_turns: int = 5) -> dict:
    """The table row of one method: SR@1/3/5, AT, DSR@5, HR@n (first turn, per turn), sessions and errors."""
    return {
        "SR@1": success_rate(records, 1),
        "SR@3": success_rate(records, 3),
        "SR@5": success_rate(records, 5),
        "AT": average_turns(records, max_turns),
        "DSR@5": decision_success_rate(records, dsr_turns),
        "HR first turn": first_turn_hit_rate(records),
        "HR per turn": per_turn_hit_rate(records),
        "sessions": len(records),
        "errors": len(records) - len(ok(records)),
    }
