"""The sessions bar counts turns: an estimate after the first turn, a total that shrinks as sessions end early."""
import pytest

from afirs_dspy.evaluation.progress import SessionTurnsBar
from afirs_dspy.evaluation.session import run_session
from afirs_dspy.evaluation.simulator_base import SessionCase
from test_eval_session import FakeProgram, ScriptedUser


def session(success_at, case=SessionCase("u1", 7, (1, 2, 3))):
    return lambda on_turn: run_session(FakeProgram({7: success_at}), ScriptedUser(case, None), case, "fake", None,
                                       "Film 7", 5, on_turn=on_turn)


def test_turns_move_the_bar_and_an_early_end_or_a_failure_takes_the_unplayed_turns_off():
    with SessionTurnsBar("eval", sessions=3, max_turns=5) as bar:
        assert bar.bar.total == 15
        record = bar.track(session(success_at=2))
        assert len(record.turns) == 2 and (bar.bar.n, bar.bar.total) == (2, 12)

        def failing(on_turn):
            on_turn()
            raise RuntimeError("LM down")

        with pytest.raises(RuntimeError):
            bar.track(failing)
        assert (bar.bar.n, bar.bar.total) == (3, 8)
        bar.track(session(success_at=None))  # five turns, no success
        assert (bar.bar.n, bar.bar.total) == (8, 8) and bar.done == 3
        assert bar.bar.desc.startswith("eval (3/3 sessions)")
