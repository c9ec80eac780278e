"""One simulated session (paper 5.1.2): the user opens, then up to ``max_turns`` program turns, each
answered by the user. It succeeds at the first turn whose recommended ids contain the target; it also
ends when the user says <END>. After the last turn, if it failed, the user is not asked again."""
from __future__ import annotations

import inspect
import time
from collections.abc import Callable

import dspy

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord, Usage
from afirs_dspy.evaluation.simulator_base import SessionCase, UserSimulator, recommends_target
from afirs_dspy.evaluation.usage import metered

MAX_TURNS = 5


class SessionStopped(Exception):
    """The run is being stopped (interrupt or too many errors); the unfinished session is dropped."""


def _ids(items) -> list[int] | None:
    """A list of item ids as ints; None (the program has no such list) stays None."""
    return None if items is None else [int(i) for i in items]


def run_session(program: dspy.Module, simulator: UserSimulator, case: SessionCase, method: str,
                program_lm: dspy.LM | None, title: str = "", max_turns: int = MAX_TURNS,
                should_stop: Callable[[], bool] = lambda: False, on_turn: Callable[[], None] = lambda: None
                ) -> SessionRecord:
    """Run the session; exceptions from the program or simulator propagate (the runner records them).
    ``on_turn()`` is called as each turn (with the user's reply) ends, for progress bars."""
    started = time.perf_counter()
    stats = simulator.stats
    with metered() as opener_usage:
        opener = simulator.open()
    record = SessionRecord(method=method, user=case.user, target=case.target, history_length=len(case.history),
                           simulator=getattr(simulator, "name", type(simulator).__name__), opener=opener,
                           target_title=title, opener_usage=opener_usage)
    dialogue = [{"role": "user", "content": opener}]
    for number in range(1, max_turns + 1):
        if should_stop():
            raise SessionStopped
        with metered() as program_usage, dspy.context(**({"lm": program_lm} if program_lm else {})):
            out = program(dialogue=list(dialogue), history=list(case.history))
        turn = TurnRecord(
            turn=number, action=out["action"], items=[int(i) for i in out["items"]],
            preselected=_ids(out.get("preselected")), candidates=_ids(out.get("candidates")),
            preferences=list(out.get("preferences", [])), question=out.get("question", ""), reply=out["reply"],
            accepted=recommends_target(out, case.target), trace=list(out.get("trace", [])), program_usage=program_usage,
            session=session_summary(out.get("session")),
        )
        if turn.action == "ask" and turn.preselected is None and answers_must_recommend(program):
            # DSR needs the list it would have recommended: asked for, not billed to the method.
            with metered() as turn.probe_usage, dspy.context(**({"lm": program_lm} if program_lm else {})):
                probe = program(dialogue=list(dialogue), history=list(case.history), must_recommend=True)
            turn.preselected = [int(i) for i in probe["items"]]
        record.turns.append(turn)
        # The program's own message carries the items it showed and its state; a program without one is read back
        # from its reply's text.
        dialogue.append(dict(out.get("message") or {"role": "assistant", "content": out["reply"]}))
        if turn.accepted or number < max_turns:
            with metered() as simulator_usage:
                turn.user_reply = simulator.respond(out, dialogue)
            turn.simulator_usage = simulator_usage
            turn.simulator_trace = list(simulator.trace)
            dialogue.append({"role": "user", "content": turn.user_reply})
        on_turn()
        if turn.accepted:
            record.ended_by = "accept"
            break
        if simulator.ended:
            record.ended_by = "user_end"
            break
    record.simulator_stats = stats.as_dict()
    record.seconds = time.perf_counter() - started
    return record


def answers_must_recommend(program: dspy.Module) -> bool:
    """Whether the program can say what it would recommend at a turn where it asks (``must_recommend``)."""
    # Read from the class: DSPy warns on every access to ``forward`` outside ``__call__``.
    return "must_recommend" in inspect.signature(type(program).forward).parameters


def session_summary(memory: dspy.Prediction | None) -> dict | None:
    """What a turn's session memory held, for the transcript."""
    if memory is None:
        return None
    return {"state": memory.state.as_json(), "notes": list(memory.notes), "rejected": len(memory.rejected),
            "excluded": len(memory.excluded), "avoided": len(memory.avoided)}


def errored_record(case: SessionCase, method: str, simulator: str, title: str, message: str,
                   seconds: float) -> SessionRecord:
    return SessionRecord(method=method, user=case.user, target=case.target, history_length=len(case.history),
                         simulator=simulator, opener="", target_title=title, status="error", ended_by="error",
                         error=message, seconds=seconds, opener_usage=Usage())
