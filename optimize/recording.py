"""Simulated validation sessions run with DSPy's trace on, keeping every predictor call's inputs."""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import dspy
from pydantic import TypeAdapter

from afirs_dspy.evaluation.progress import SessionTurnsBar
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.session import run_session
from afirs_dspy.evaluation.simulator_base import SessionCase, UserSimulator
from afirs_dspy.optimize.examples import Call


InputTypes = dict[str, dict[str, TypeAdapter]]


def input_types(program: dspy.Module) -> InputTypes:
    """Per predictor name, a pydantic adapter per input field (turns e.g. UserPreferences into JSON and back)."""
    return {name: {field: TypeAdapter(info.annotation) for field, info in predictor.signature.input_fields.items()}
            for name, predictor in program.named_predictors()}


@dataclass
class RecordedSession:
    case: SessionCase
    record: SessionRecord
    calls: list[Call]

    def to_dict(self, types: InputTypes) -> dict:
        """JSON-ready; each call's inputs dumped by its predictor's input field types (``input_types``)."""
        calls = [{"predictor": c.predictor, "target": c.target,
                  "inputs": {k: types[c.predictor][k].dump_python(v, mode="json") if k in types[c.predictor] else v
                             for k, v in c.inputs.items()}}
                 for c in self.calls]
        return {"case": {"user": self.case.user, "target": self.case.target, "history": list(self.case.history)},
                "record": self.record.to_dict(), "calls": calls}

    @classmethod
    def from_dict(cls, data: dict, types: InputTypes) -> RecordedSession:
        """The session ``to_dict`` wrote, its calls' inputs validated back into their field types."""
        case = data["case"]
        calls = [Call(c["predictor"], {k: types[c["predictor"]][k].validate_python(v) if k in types[c["predictor"]]
                                       else v for k, v in c["inputs"].items()}, c["target"])
                 for c in data["calls"]]
        return cls(SessionCase(case["user"], case["target"], tuple(case["history"])),
                   SessionRecord.from_dict(data["record"]), calls)


def record_sessions(program: dspy.Module, simulators: Callable[[SessionCase], UserSimulator],
                    cases: Sequence[SessionCase], lm: dspy.LM | None, max_turns: int, num_threads: int = 1,
                    desc: str = "sessions", progress: bool = True,
                    done: Mapping[SessionCase, RecordedSession] | None = None,
                    on_session: Callable[[RecordedSession], None] | None = None) -> list[RecordedSession]:
    """One session per case, ``num_threads`` at a time, in the order of ``cases``; the cases in ``done`` are
    not run again, and ``on_session`` gets each new session as it ends. Errors propagate; on an error or an
    interrupt the running sessions stop at their next turn."""
    names = {id(predictor): name for name, predictor in program.named_predictors()}
    finished = {case: done[case] for case in cases if done and case in done}
    stop = threading.Event()

    def one(case: SessionCase, bar: SessionTurnsBar) -> RecordedSession:
        trace: list = []
        with dspy.context(trace=trace):
            record = bar.track(lambda on_turn: run_session(program, simulators(case), case, "compile", lm,
                                                           max_turns=max_turns, on_turn=on_turn,
                                                           should_stop=stop.is_set))
        calls = [Call(names[id(predictor)], dict(inputs), case.target)
                 for predictor, inputs, _ in trace if id(predictor) in names]
        return RecordedSession(case, record, calls)

    todo = [case for case in cases if case not in finished]
    bar = SessionTurnsBar(desc, len(cases), max_turns, done=len(finished), disable=not progress)
    executor = ThreadPoolExecutor(max_workers=num_threads)
    try:
        for future in as_completed([executor.submit(one, case, bar) for case in todo]):
            session = future.result()
            finished[session.case] = session
            if on_session is not None:
                on_session(session)
    finally:
        stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return [finished[case] for case in cases]
