"""The session loop with a scripted program and a scripted user: success, failure, <END>, usage.

``FakeProgram`` and ``ScriptedUser`` are also used by test_eval_runner.py.
"""
from __future__ import annotations

import dspy

from afirs_dspy.evaluation.metrics import average_turns, success_rate
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.session import run_session
from afirs_dspy.evaluation.simulator_base import SessionCase, SimulatorState, recommends_target
from scripted import ScriptedLM


class FakeProgram(dspy.Module):
    """Asks until turn ``success_at[target]`` (never when absent), then recommends the target.

    The target is read from the opener "I want item <id>"; turn k is 1 + the assistant messages so far.
    ``fail_for`` users' targets make it raise (an LM that keeps failing)."""

    def __init__(self, success_at: dict[int, int], fail_for: set[int] = frozenset()):
        super().__init__()
        self.success_at = success_at
        self.fail_for = set(fail_for)

    def forward(self, dialogue, history):
        target = int(dialogue[0]["content"].split()[-1])
        if target in self.fail_for:
            raise RuntimeError(f"LM unreachable for {target}")
        turn = 1 + sum(t["role"] == "assistant" for t in dialogue)
        decoy = [target + 100, target + 101]
        if turn == self.success_at.get(target):
            items = [target + 100, target]
            return dspy.Prediction(action="recommend", items=items, question="", reply="Try these", preferences=["p"],
                                   candidates=[target, *decoy], preselected=items, trace=[{"step": "decide", "status": "ok"}])
        return dspy.Prediction(action="ask", items=[], question="Which genre?", reply="Which genre?", preferences=[],
                               candidates=decoy, preselected=decoy,
                               trace=[{"step": "decide", "status": "retried", "errors": ["AdapterParseError: bad"]}])


class ScriptedUser(SimulatorState):
    """Opens with "I want item <target>", answers "more", says <END> at turn ``end_at``."""

    name = "scripted"

    def __init__(self, case: SessionCase, end_at: int | None = None):
        super().__init__()
        self.case = case
        self.end_at = end_at
        self.replies = 0

    def open(self):
        return f"I want item {self.case.target}"

    def respond(self, turn, dialogue):
        self.replies += 1
        if recommends_target(turn, self.case.target):
            return "yes"
        if self.replies == self.end_at:
            self.ended = True
        return "more"


def run(success_at=None, end_at=None, max_turns=5, program=None, lm=None):
    case = SessionCase("u1", 7, (1, 2, 3))
    user = ScriptedUser(case, end_at)
    record = run_session(program or FakeProgram({7: success_at} if success_at else {}), user, case, "fake", lm,
                         "Film 7", max_turns)
    return record, user


def test_success_at_turn_k_gives_sr_at_k_and_at_k():
    for k in range(1, 6):
        record, user = run(success_at=k)
        assert record.success_turn == k and len(record.turns) == k and record.ended_by == "accept"
        assert [success_rate([record], t) for t in range(1, 6)] == [0.0] * (k - 1) + [1.0] * (6 - k)
        assert average_turns([record], 5) == k
        assert record.turns[-1].user_reply == "yes" and user.replies == k


def test_failure_counts_as_max_turns_plus_one_and_the_user_is_not_asked_after_the_last_turn():
    record, user = run()
    assert record.success_turn is None and record.ended_by == "max_turns" and len(record.turns) == 5
    assert average_turns([record], 5) == 6 and success_rate([record], 5) == 0
    assert user.replies == 4 and record.turns[-1].user_reply is None


def test_user_end_stops_the_session_as_a_failure():
    record, _ = run(end_at=2)
    assert record.ended_by == "user_end" and len(record.turns) == 2 and record.success_turn is None
    assert average_turns([record], 5) == 6


def test_records_hold_ids_traces_and_round_trip_through_json():
    record, _ = run(success_at=2)
    first, second = record.turns
    assert (first.action, first.items, first.preselected, first.candidates) == ("ask", [], [107, 108], [107, 108])
    assert (second.items, second.accepted, second.candidates[0]) == ([107, 7], True, 7)
    assert record.opener == "I want item 7" and record.target_title == "Film 7" and record.history_length == 3
    assert SessionRecord.from_dict(record.to_dict()) == record


class OneCallProgram(dspy.Module):
    def __init__(self):
        super().__init__()
        self.ask = dspy.Predict("question -> answer")

    def forward(self, dialogue, history):
        self.ask(question=dialogue[-1]["content"])
        return dspy.Prediction(action="ask", items=[], question="q", reply="q", preselected=[], candidates=[],
                               preferences=[], trace=[])


def test_lm_calls_and_tokens_are_counted_per_turn():
    lm = ScriptedLM({"[[ ## question ## ]]": {"answer": "ok"}})
    record, _ = run(program=OneCallProgram(), lm=lm, max_turns=2)
    usage = record.turns[0].program_usage
    assert usage.lm_calls == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0 and usage.seconds >= 0
    assert record.turns[0].simulator_usage.lm_calls == 0


def test_a_decide_first_method_that_asks_is_asked_what_it_would_recommend_unbilled(tmp_path):
    from afirs_dspy.evaluation.attribute_simulator import AttributeSimulatorConfig, AttributeSimulators
    from afirs_dspy.programs.registry import build_program
    from test_eval_runner import toy_lm
    from toy_world import toy_context

    context = toy_context(tmp_path)
    lm = toy_lm()
    lm.rules = {**lm.rules, "(`action`).": {"action": "ask"},
                "`[[ ## question ## ]]`": {"question": "What mood?"}}
    simulators = AttributeSimulators(context, 0, AttributeSimulatorConfig(min_open_items=1))
    case = SessionCase("u", 5, (1, 2))
    record = run_session(build_program("llmcrs", context), simulators(case), case, "llmcrs", lm, max_turns=2)
    for turn in record.turns:
        assert turn.action == "ask" and len(turn.preselected) == 10  # the refined list it would recommend
        assert turn.probe_usage.lm_calls == 1 and turn.program_usage.lm_calls == 2  # the refinement, apart
