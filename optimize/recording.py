"""Simulated validation sessions run with DSPy's trace on, keeping every predictor call's inputs."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dspy

from afirs_dspy.evaluation.progress import SessionTurnsBar
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.session import run_session
from afirs_dspy.evaluation.simulator_base import SessionCase, UserSimulator
from afirs_dspy.optimize.examples import Call


@dataclass
class RecordedSession:
    case: SessionCase
    record: SessionRecord
    calls: list[Call]


def record_sessions(program: dspy.Module, simulators: Callable[[SessionCase], UserSimulator],
                    cases: Sequence[SessionCase], lm: dspy.LM | None, max_turns: int, num_threads: int = 1,
                    desc: str = "sessions", progress: bool = True) -> list[RecordedSession]:
    """Run one session per case (in order, ``num_threads`` at a time); errors propagate."""
    names = {id(predictor): name for name, predictor in program.named_predictors()}

    def one(case: SessionCase, bar: SessionTurnsBar) -> RecordedSession:
        trace: list = []
        with dspy.context(trace=trace):
            record = bar.track(lambda on_turn: run_session(program, simulators(case), case, "compile", lm,
                                                           max_turns=max_turns, on_turn=on_turn))
        calls = [Call(names[id(predictor)], dict(inputs), case.target)
                 for predictor, inputs, _ in trace if id(predictor) in names]
        return RecordedSession(case, record, calls)

    with (ThreadPoolExecutor(max_workers=num_threads) as executor,
          SessionTurnsBar(desc, len(cases), max_turns, disable=not progress) as bar):
        return list(executor.map(lambda case: one(case, bar), cases))
