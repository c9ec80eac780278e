"""Every metric against values computed by hand, and the summary/report built from them."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from afirs_dspy.evaluation.metrics import (average_turns, costs, decision_success_rate, first_turn_hit_rate,
                                           per_turn_hit_rate, success_curve, success_rate, summarize)
from afirs_dspy.evaluation.records import SessionRecord, TurnRecord, Usage
from afirs_dspy.evaluation.report import render_markdown, write_reports
from afirs_dspy.evaluation.summary import build_summary
from afirs_dspy.evaluation.target_funnel import target_funnel


def turn(n, action, items=(), preselected=..., candidates=None, target=None, trace=()):
    """``preselected`` defaults to the items (None: the list it would recommend is unknown); ``candidates``
    None: no tool passed any."""
    items = list(items)
    return TurnRecord(turn=n, action=action, items=items,
                      preselected=list(items) if preselected is ... else None if preselected is None else list(preselected),
                      candidates=None if candidates is None else list(candidates), preferences=[], question="",
                      reply="", accepted=action == "recommend" and target in items, trace=list(trace),
                      program_usage=Usage(2, 100, 10, 0.5, model_calls=2), simulator_usage=Usage(1, 20, 5, 0.1))


def session(user, target, turns, status="ok", method="m"):
    return SessionRecord(method=method, user=user, target=target, history_length=3, simulator="s", opener="hi",
                         turns=turns, status=status, simulator_stats={"leaks": 1, "stripped": 1}, seconds=2.0)


PARSE = {"step": "decide", "status": "retried", "errors": ["AdapterParseError: no fields"]}
INVALID = {"step": "refine", "status": "fallback", "errors": ["InvalidOutput: numbers [99]", "InvalidOutput: again"]}

RECORDS = [
    # success at turn 2; both decisions correct; both candidate lists hold the target
    session("a", 7, [turn(1, "ask", preselected=[1, 2], candidates=[7, 3], trace=[PARSE]),
                     turn(2, "recommend", [7, 9], candidates=[7], target=7)]),
    # failure: recommend without the target (wrong), ask with the target preselected (wrong), 3 correct asks;
    # only turn 2's candidates hold the target (turn 1 passed none, e.g. before a search)
    session("b", 5, [turn(1, "recommend", [1, 2], candidates=[], target=5, trace=[INVALID]),
                     turn(2, "ask", preselected=[5], candidates=[5, 8]), turn(3, "ask", preselected=[], candidates=[9]),
                     turn(4, "ask", preselected=[], candidates=[9]), turn(5, "ask", preselected=[], candidates=[9])]),
    # success at turn 1
    session("c", 3, [turn(1, "recommend", [3], candidates=[3, 4], target=3)]),
    # errored before its first turn: a failure, and a miss
    session("d", 4, [], status="error"),
]


def test_success_rates_and_average_turns_count_errored_sessions_as_failures():
    assert [success_rate(RECORDS, t) for t in (1, 3, 5)] == pytest.approx([1 / 4, 2 / 4, 2 / 4])
    assert success_curve(RECORDS, 5) == pytest.approx([1 / 4, 2 / 4, 2 / 4, 2 / 4, 2 / 4])
    assert average_turns(RECORDS, 5) == pytest.approx((2 + 6 + 1 + 6) / 4)


def test_one_success_and_one_crash_is_half_a_success_rate():
    records = [session("ok", 1, [turn(1, "recommend", [1], target=1)]), session("crash", 2, [], status="error")]
    row = summarize(records, 5)
    assert (row["SR@5"], row["AT"], row["sessions"], row["errors"]) == (0.5, 3.5, 2, 1)


def test_decision_success_rate_pools_decisions_up_to_t():
    assert decision_success_rate(RECORDS, 5) == pytest.approx(6 / 8)
    assert decision_success_rate(RECORDS, 1) == pytest.approx(2 / 3)


def test_dsr_is_not_computed_when_an_ask_lacks_the_list_it_would_recommend():
    # ReAct-like: asks name no list; counting every ask as correct gave DSR 1.00 with SR 0.
    react = [session(str(u), u, [turn(k, "ask", preselected=None) for k in range(1, 6)]) for u in range(3)]
    assert decision_success_rate(react) is None
    # Turns that recommend always carry their list: a method that never asked is judged.
    assert decision_success_rate([session("x", 1, [turn(1, "recommend", [2], preselected=None)])]) == 0.0
    summary = build_summary({"react": react}, ["react"], 5, 50)
    text = render_markdown(summary, "toy")
    assert "| react | 0.00 | 0.00 | 0.00 | 6.00 | – | – | – | 3 | 0 |" in text
    # the table says why, per method (issue 32)
    assert "- react: no DSR@5, the agent's one final answer decides" in text


def test_hit_rates_have_the_sessions_as_denominator():
    assert first_turn_hit_rate(RECORDS) == pytest.approx(2 / 4)  # a, c; b's first turn passed none; d errored
    assert per_turn_hit_rate(RECORDS) == pytest.approx((1 + 1 / 5 + 1 + 0) / 4)
    tool_less = [session("x", 1, [turn(1, "ask")])]
    assert first_turn_hit_rate(tool_less) is None and per_turn_hit_rate(tool_less) is None


def test_the_funnel_counts_where_recommend_turns_lost_the_target():
    # a: 7 in its candidates' head [7] but [7, 9] is not that head; b: candidates [] hold nothing, and one of its
    # four asks had the target in its list; c: shows its tool's head [3], in order
    assert target_funnel(RECORDS) == {
        "recommend turns": 3, "target in candidates": 2, "target in tool's first n": 2, "target shown": 2,
        "shown = tool's first n": 1, "ask turns": 5, "asks with target in its list": 1}
    copied = [session("x", 1, [turn(1, "recommend", [4, 1], candidates=[4, 1, 9], target=1)]),
              session("y", 2, [turn(1, "recommend", [5, 6], candidates=[5, 6, 2], target=2)])]
    assert target_funnel(copied) == {
        "recommend turns": 2, "target in candidates": 2, "target in tool's first n": 1, "target shown": 1,
        "shown = tool's first n": 2, "ask turns": 0, "asks with target in its list": 0}
    react = [session("z", 3, [turn(1, "ask", preselected=None), turn(2, "recommend", [3], target=3)])]
    assert target_funnel(react) == {
        "recommend turns": 1, "target in candidates": None, "target in tool's first n": None, "target shown": 1,
        "shown = tool's first n": None, "ask turns": 1, "asks with target in its list": None}
    text = render_markdown(build_summary({"react": react}, ["react"], 5, 50), "toy")
    assert "| react | 1 | – | – | 1 | – | 1 | – |" in text


def test_no_sessions_gives_no_numbers():
    assert summarize([], 5)["SR@5"] is None and average_turns([], 5) is None


def test_costs():
    cost = costs(RECORDS)
    assert (cost["sessions"], cost["errors"], cost["turns"]) == (3, 1, 8)
    assert cost["lm_calls_per_turn"] == 2 and cost["prompt_tokens_per_turn"] == 100
    assert cost["lm_calls_per_session"] == pytest.approx(16 / 3)
    assert cost["seconds_per_session"] == pytest.approx(16 * 0.25 / 3)  # every call at 0.5 s / 2 calls
    assert cost["simulator_lm_calls_per_session"] == pytest.approx(8 / 3)
    assert (cost["parse_failures"], cost["invalid_outputs"], cost["retried_steps"], cost["fallbacks"]) == (1, 2, 1, 1)
    assert (cost["simulator_leaks"], cost["simulator_stripped"]) == (3, 3)


def test_costs_price_cached_calls_like_the_calls_that_reached_the_model():
    fresh = session("1", 1, [turn(1, "ask"), turn(2, "recommend")])  # 2 calls a turn, 50 prompt tokens a call
    replayed = session("2", 1, [turn(1, "ask")])
    replayed.turns[0].program_usage = Usage(2, 0, 0, 0.01, model_calls=0)  # both answers from DSPy's cache
    partly = session("3", 1, [turn(1, "ask")])
    partly.turns[0].program_usage = Usage(2, 30, 4, 0.25, model_calls=1)
    legacy = session("4", 1, [turn(1, "ask")])
    legacy.turns[0].program_usage = Usage(2, 7, 1, 0.1)  # written before model calls were counted
    cost = costs([fresh, replayed, partly, legacy])
    assert cost["lm_calls_per_turn"] == 2 and cost["uncached_calls"] == 5
    # per uncached call: (100 + 100 + 30) / 5 = 46 prompt tokens, (0.5 + 0.5 + 0.25) / 5 = 0.25 s
    assert cost["prompt_tokens_per_turn"] == pytest.approx(2 * 46)
    assert cost["seconds_per_turn"] == pytest.approx(2 * 0.25)
    assert cost["seconds_per_session"] == pytest.approx(10 * 0.25 / 4)
    assert costs([replayed])["seconds_per_turn"] is None


def test_summary_marks_significant_improvements_and_writes_every_file(tmp_path):
    strong = [session(str(u), u, [turn(1, "recommend", [u], target=u)], method="ours") for u in range(10)]
    weak = [session(str(u), u, [turn(k, "ask") for k in range(1, 6)], method="base") for u in range(10)]
    summary = build_summary({"ours": strong, "base": weak}, ["ours", "base"], 5, 50, baseline="base")
    ours, base = summary["rows"]
    assert ours["significant"] == ["AT", "SR@1", "SR@3", "SR@5"] and base["significant"] == []
    assert (ours["SR@1"], ours["AT"], base["AT"], ours["HR@50 first turn"]) == (1.0, 1.0, 6.0, None)
    text = render_markdown(summary, "toy")
    assert "| Method | SR@1 | SR@3 | SR@5 | AT | DSR@5 | HR@50 first turn | HR@50 per turn | sessions | errors |" in text
    assert "| ours | 1.00* | 1.00* | 1.00* | 1.00* | 1.00 | – | – | 10 | 0 |" in text
    assert "failed session counts as 6" in text
    assert "SR@t: exact McNemar; AT: paired sign-flip permutation test" in text
    paths = write_reports(summary, {"seed": 0}, tmp_path, "toy")
    table = pd.read_csv(paths["csv"])
    assert list(table.method) == ["ours", "base"] and table.loc[0, "p_SR@5_mcnemar"] == pytest.approx(2 / 2 ** 10)
    assert table.loc[0, "p_AT_sign_flip"] == pytest.approx(2 / 2 ** 10)
    assert json.loads(paths["json"].read_text())["config"] == {"seed": 0}
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
