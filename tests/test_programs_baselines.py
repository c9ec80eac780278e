"""The baselines with a scripted LM: each control flow, id/title validation and fallbacks."""
from __future__ import annotations

import json

import dspy
import pytest

from afirs_dspy.programs.attribute_search import named
from afirs_dspy.programs.registry import METHODS, build_program
from scripted import ScriptedLM, field, listed
from toy_world import toy_context

DIALOGUE = [{"role": "user", "content": "Something dark, a horror film"}]
PREFS = {"preferences": json.dumps({"likes": ["horror"], "dislikes": [], "constraints": []})}


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def run(context, method, rules, history=(1, 2)):
    lm = ScriptedLM(rules)
    with dspy.context(lm=lm):
        out = build_program(method, context)(dialogue=DIALOGUE, history=list(history))
    return out, lm


def test_every_method_is_buildable(context):
    for method in METHODS:
        assert isinstance(build_program(method, context), dspy.Module)
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        build_program("magic", context)


def test_zero_shot_maps_titles_back_to_ids_and_lists_the_rest(context):
    titles = ["film 7", "Film 9 (1999)", "Film 1 (1991)", "Casablanca"]
    out, lm = run(context, "zero-shot", {"`[[ ## action ## ]]`": {"action": "recommend", "titles": json.dumps(titles), "question": ""}})
    assert out["items"] == [7, 9]  # Film 1 is in the history
    assert out.trace[-1]["unmatched"] == ["Casablanca"]
    assert out.candidates is None and out.preselected == [7, 9]  # no tool list (HR: –); recommending shows its list


def test_zero_shot_recommending_nothing_known_asks_instead(context):
    out, _ = run(context, "zero-shot", {"`[[ ## action ## ]]`": {"action": "recommend", "titles": '["Casablanca"]', "question": ""}})
    assert out.action == "ask" and out["items"] == [] and out.question


def test_llmcrs_decides_first_then_refines_plain_ranking(context):
    seen = {}

    def refine(prompt):
        seen["prompt"] = prompt
        return {"selected": "[3]"}

    out, lm = run(context, "llmcrs", {"(`action`).": {"action": "recommend"}, "[[ ## candidates ## ]]": refine})
    assert out.action == "recommend" and len(out.candidates) == 22  # 24 items minus the history
    assert out["items"][0] == out.candidates[2] and len(out["items"]) == 10
    # The refinement reads the conversation itself: no preference summary first (issue 33).
    assert [e["step"] for e in out.trace] == ["decide", "tool", "refine"]
    assert field(seen["prompt"], "conversation") == "User: Something dark, a horror film"


def test_decision_first_refinement_takes_the_tools_order_when_its_answer_is_unusable(context):
    out, lm = run(context, "llmcrs", {"(`action`).": {"action": "recommend"}, "[[ ## candidates ## ]]": {"selected": "[99]"}})
    # One attempt, then the tool's own top 10: a second read of 50 candidates costs more than it gains.
    assert out["items"] == out.candidates[:10] and lm.calls["[[ ## candidates ## ]]"] == 1
    assert next(e for e in out.trace if e["step"] == "refine")["status"] == "fallback"


def test_llmcrs_asks_from_the_conversation(context):
    rules = {"(`action`).": {"action": "ask"},
             "`[[ ## question ## ]]`": {"question": "Which genre?"}}
    out, lm = run(context, "llmcrs", rules)
    assert (out.action, out.question, out["items"]) == ("ask", "Which genre?", [])
    # Deciding first to ask skips the refinement of its 22 candidates: the list it would recommend is unknown
    # (DSR: –), not the unrefined top 10 it used to be judged on.
    assert out.preselected is None and len(out.candidates) == 22


def test_interecagent_hard_filters_on_the_attributes_the_lm_names(context):
    def pick(prompt):
        assert "Horror" in listed(prompt, "attributes")
        return {"required": '["horror", "Not An Attribute"]', "excluded": "[]"}  # names, in any case

    rules = {"(`action`).": {"action": "recommend"}, "[[ ## attributes ## ]]": pick,
             "[[ ## candidates ## ]]": {"selected": "[1]"}}
    out, _ = run(context, "interecagent", rules)
    horror = set(context.tree.node_items(5).tolist()) - {1, 2}
    assert set(out.candidates) == horror and out.preferences == ["Horror"]
    assert "Hard filter (all of 'Horror')" in next(e["note"] for e in out.trace if e["step"] == "tool")


def test_interecagent_falls_back_to_ranking_when_nothing_passes_the_filter(context):
    def pick(prompt):
        return {"required": '["Horror", "Comedy"]', "excluded": "[]"}

    rules = {"(`action`).": {"action": "recommend"}, "[[ ## attributes ## ]]": pick,
             "[[ ## candidates ## ]]": {"selected": "[1]"}}
    out, _ = run(context, "interecagent", rules)
    assert len(out.candidates) == 22
    assert [e["status"] for e in out.trace if e["step"] == "tool"] == ["ok", "fallback"]


def test_react_uses_its_tools_and_keeps_only_catalog_ids(context):
    steps = iter([
        {"next_thought": "search", "next_tool_name": "search_catalog", "next_tool_args": json.dumps({"query": "horror"})},
        {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": "{}"},
    ])
    seen = {}

    def extract(prompt):
        seen["prompt"] = prompt
        return {"action": "recommend", "item_ids": "[6, 999, 2, 6]", "question": ""}

    out, _ = run(context, "react", {"`[[ ## next_thought ## ]]`": lambda _: next(steps), "`[[ ## item_ids ## ]]`": extract})
    assert "[[ ## tool_name_0 ## ]]\nsearch_catalog" in seen["prompt"] and "id 6: Film 6 (1996) — Horror, funny" in seen["prompt"]
    assert out["items"] == [6]  # 999 is not an item, 2 is in the history
    assert next(e for e in out.trace if e["step"] == "check_ids")["dropped"] == [999, 2]


def test_react_is_bounded_and_a_step_that_does_not_parse_ends_the_trajectory(context):
    seen = []

    def answer(prompt):
        seen.append(prompt)
        return {"action": "ask", "item_ids": "[]", "question": "Dark or funny?"}

    step = {"next_thought": "search", "next_tool_name": "search_catalog", "next_tool_args": json.dumps({"query": "x"})}
    out, lm = run(context, "react", {"`[[ ## next_thought ## ]]`": step, "`[[ ## item_ids ## ]]`": answer})
    assert lm.calls["`[[ ## next_thought ## ]]`"] == 2 and len(seen) == 1  # max_iters=2, then the final answer
    assert "`reasoning`" not in seen[0]  # the answer does not reason a second time
    out, lm = run(context, "react", {"`[[ ## next_thought ## ]]`": "not json at all", "`[[ ## item_ids ## ]]`": answer})
    assert lm.calls["`[[ ## next_thought ## ]]`"] == 1 and (out.action, out.question) == ("ask", "Dark or funny?")


def test_react_sees_invalid_tool_arguments_in_one_line_without_a_traceback(context):
    # What the 1.5B model writes: the argument's schema, copied from the tool's description.
    steps = iter([{"next_thought": "search", "next_tool_name": "search_catalog",
                   "next_tool_args": json.dumps({"query": {"type": "string", "keywords": ["horror"]}})},
                  {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": "{}"}])
    seen = []

    def answer(prompt):
        seen.append(prompt)
        return {"action": "ask", "item_ids": "[]", "question": "Dark or funny?"}

    run(context, "react", {"`[[ ## next_thought ## ]]`": lambda _: next(steps), "`[[ ## item_ids ## ]]`": answer})
    observation = seen[0].split("[[ ## observation_0 ## ]]\n")[1].split("\n")[0]
    assert observation.startswith("invalid arguments: Arg query is invalid:") and "is not of type 'string'" in observation
    assert "Traceback" not in seen[0] and "site-packages" not in seen[0]


def test_attribute_filter_keeps_the_first_shown_names_of_a_run_on_list():
    shown = ["Horror", "Comedy", "Drama", "Thriller", "War"]
    listed_all = ["drama", "film noir", "Horror ", "drama", "War", "Comedy", "Thriller"]
    assert named(listed_all, shown, 3) == ["Drama", "Horror", "War"]  # unknown and repeated names dropped
