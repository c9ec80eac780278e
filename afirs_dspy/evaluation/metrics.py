"""The paper's metrics (5.1.4, 5.4) and the run's costs, as pure functions over session records.

Only sessions with status "ok" count; errored sessions are left out (and counted separately).

- SR@t: share of sessions whose target was recommended (accepted) at turn t or earlier.
- AT: mean turns per session; a failed session counts as ``max_turns + 1`` (6 for 5 turns), so AT
  above 5 means most sessions failed, as for the weak methods of the paper's Table 2.
- DSR@t: share of correct decisions over all program turns up to turn t, pooled over sessions: to
  recommend is correct when the target is among the recommended items, to ask is correct when the
  target is not in the list the program would have recommended (its ``preselected``).
- HR@n: share of program turns, among those where a tool passed candidates to the LM, whose
  candidates contain the target (paper 5.4.2, n = 50); None for methods without a tool.
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
    return _mean([succeeded_by(r, t) for r in ok(records)])


def turns_taken(record: SessionRecord, max_turns: int) -> int:
    return record.success_turn if record.success_turn is not None else max_turns + 1


def average_turns(records: Sequence[SessionRecord], max_turns: int) -> float | None:
    return _mean([turns_taken(r, max_turns) for r in ok(records)])


def decision_correct(turn: TurnRecord, target: int) -> bool:
    shown = turn.items if turn.action == "recommend" else turn.preselected
    return (turn.action == "recommend") == (target in shown)


def decision_success_rate(records: Sequence[SessionRecord], t: int = 5) -> float | None:
    return _mean([decision_correct(turn, r.target) for r in ok(records) for turn in r.turns if turn.turn <= t])


def candidate_hit_rate(records: Sequence[SessionRecord]) -> float | None:
    return _mean([r.target in turn.candidates for r in ok(records) for turn in r.turns if turn.candidates])


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
        "errored": len(records) - len(done),
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
    """The table row of one method: SR@1/3/5, AT, DSR@5, HR@n and the session counts."""
    return {
        "SR@1": success_rate(records, 1),
        "SR@3": success_rate(records, 3),
        "SR@5": success_rate(records, 5),
        "AT": average_turns(records, max_turns),
        "DSR@5": decision_success_rate(records, dsr_turns),
        "HR": candidate_hit_rate(records),
        "sessions": len(ok(records)),
        "errored": len(records) - len(ok(records)),
    }
