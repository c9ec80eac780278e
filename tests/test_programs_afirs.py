"""AF-IRS turns with a scripted LM: control flow, id validation, fallbacks and the ablations."""
from __future__ import annotations

import json

import dspy
import pytest

from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from scripted import ScriptedLM, field, listed
from toy_world import toy_context

PREFS = {"preferences": json.dumps({"likes": ["comedy"], "dislikes": [], "constraints": []})}
# "Comedy" is an attribute's name as said (kept without asking); "hilariously funny" proposes "funny" to the LM
DIALOGUE = [{"role": "user", "content": "I want a Comedy, something hilariously funny"}]
COMEDY = [{"role": "user", "content": "I want a Comedy"}]  # leaves the moods to ask about


def pick_by_name(*names):
    """Select the shown nodes whose path ends with one of ``names``."""
    def rule(prompt):
        shown = listed(prompt, "nodes")
        numbered = (line.split(". ", 1) for line in shown)
        return {"selected": json.dumps([int(n) for n, path in numbered if path.split(" > ")[-1] in names])}
    return rule


def rules(**overrides):
    base = {
        "[[ ## nodes ## ]]": pick_by_name("Genre", "Main genres", "Comedy"),
        "`[[ ## preferences ## ]]`": PREFS,
        "[[ ## candidates ## ]]": {"selected": "[2, 1]"},
        "[[ ## items ## ]]": {"reason": "they match", "action": "recommend"},
        "[[ ## candidate_distribution ## ]]": {"question": "Funny or dark?"},
        "(`action`).": {"action": "ask"},
    }
    base.update(overrides)
    return base


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def run(context, lm, method="afirs", config=AFIRSConfig(n_candidates=6, n_recommend=3, refinement="scored"),
        history=(1, 2), dialogue=DIALOGUE):
    """A turn; the LM reranks the shortlist here (``refinement="scored"``), so its picks can be checked."""
    program = build_program(method, context, config)
    with dspy.context(lm=lm):
        return program(dialogue=dialogue, history=list(history))


def test_full_turn_recommends_refined_items_under_the_extracted_preference(context):
    lm = ScriptedLM(rules())
    out = run(context, lm)
    comedy = set(context.tree.node_items(3).tolist())
    assert out.action == "recommend"
    assert out.preferences == ["Genre > Main genres > Comedy"]
    assert set(out.candidates) <= comedy and len(out.candidates) == 6
    assert out["items"][:2] == [out.candidates[1], out.candidates[0]]  # the LM's picks first, then tool order
    assert len(out["items"]) == 3 and not set(out["items"]) & {1, 2}
    assert out.reply.startswith("You might like: Film")
    assert [e["step"] for e in out.trace] == ["confirm", "tool", "refine", "decide"]
    assert lm.calls["[[ ## nodes ## ]]"] == 1  # one confirmation of the proposed attribute (it is not picked)
    assert lm.calls["`[[ ## preferences ## ]]`"] == 0  # the summary states the session's preferences in code


def test_the_default_refinement_orders_by_the_score_without_an_lm_call(context):
    lm = ScriptedLM(rules())
    out = run(context, lm, config=AFIRSConfig(n_candidates=6, n_recommend=3))
    assert out.action == "recommend" and len(out["items"]) == 3
    assert lm.calls["[[ ## candidates ## ]]"] == 0  # no RerankShortlist prompt
    refine = next(e for e in out.trace if e["step"] == "refine")
    assert refine["status"] == "ok" and refine["note"] == "ordered by the preference score"


def test_ask_builds_the_question_on_the_candidate_distribution(context):
    seen = {}

    def question(prompt):
        seen["distribution"] = field(prompt, "candidate_distribution")
        return {"question": "Funny or dark?"}

    lm = ScriptedLM(rules(**{"[[ ## items ## ]]": {"reason": "unclear", "action": "ask"},
                             "[[ ## candidate_distribution ## ]]": question}))
    out = run(context, lm, dialogue=COMEDY)
    assert (out.action, out["items"], out.question, out.reply) == ("ask", [], "Funny or dark?", "Funny or dark?")
    assert len(out.preselected) == 3
    # All candidates are comedies, so the genre aspect splits nothing; moods split them evenly.
    assert seen["distribution"] == "Mood > Feel: funny (2 of 6), dark (2 of 6), tense (2 of 6)"


def test_out_of_range_refinement_is_retried_then_replaced_by_the_tool_order(context):
    lm = ScriptedLM(rules(**{"[[ ## candidates ## ]]": {"selected": "[99]"}}))
    out = run(context, lm, config=AFIRSConfig(n_candidates=6, n_recommend=3, refinement="lm"))
    refine = next(e for e in out.trace if e["step"] == "refine")
    assert refine["status"] == "fallback" and len(refine["errors"]) == 2
    assert out["items"] == out.candidates[:3]
    assert lm.calls["[[ ## candidates ## ]]"] == 2


def test_unparseable_decision_falls_back_to_asking_with_a_template_question(context):
    lm = ScriptedLM(rules(**{"[[ ## items ## ]]": "no fields here",
                             "[[ ## candidate_distribution ## ]]": "still nothing"}))
    out = run(context, lm, dialogue=COMEDY, config=AFIRSConfig(n_candidates=6, n_recommend=3, decision_facts=False))
    assert out.action == "ask"
    assert out.question.startswith("Do you have a preference regarding")
    statuses = {e["step"]: e["status"] for e in out.trace}
    assert statuses["decide"] == "fallback" and statuses["ask"] == "fallback"


def test_nothing_selected_means_plain_ranking(context):
    lm = ScriptedLM(rules(**{"[[ ## nodes ## ]]": {"selected": "[]"}}))
    out = run(context, lm, dialogue=[{"role": "user", "content": "something hilariously funny"}])
    assert out.preferences == [] and lm.calls["[[ ## nodes ## ]]"] == 1
    assert "Plain SASRec ranking" in next(e["note"] for e in out.trace if e["step"] == "tool")


def test_decision_first_decides_before_acting_and_skips_an_lm_refinement_when_asking(context):
    lm = ScriptedLM(rules())
    out = run(context, lm, "decision-first", dialogue=COMEDY)
    steps = [e["step"] for e in out.trace]
    assert steps[0] == "decide" and "refine" not in steps and out.action == "ask"
    assert lm.calls["[[ ## items ## ]]"] == 0
    # The unrefined top 3 are not what it would recommend (that refines with the LM): not known here.
    assert out.preselected is None and len(out.candidates) == 6
    # Asked to recommend now (the evaluation's DSR question), it refines without deciding.
    forced = build_program("decision-first", context, AFIRSConfig(n_candidates=6, n_recommend=3, refinement="scored"))
    with dspy.context(lm=lm):
        now = forced(dialogue=COMEDY, history=[1, 2], must_recommend=True)
    assert now.action == "recommend" and len(now["items"]) == 3 and now.trace[0]["step"] != "decide"
    # With the score refinement (the default), refining costs no LM call: the list is known when it asks.
    scored = run(context, ScriptedLM(rules()), "decision-first", dialogue=COMEDY,
                 config=AFIRSConfig(n_candidates=6, n_recommend=3))
    assert scored.action == "ask" and len(scored.preselected) == 3


def test_action_first_asks_with_the_refined_list_it_would_recommend(context):
    lm = ScriptedLM(rules(**{"[[ ## items ## ]]": {"reason": "unsure", "action": "ask"}}))
    out = run(context, lm, dialogue=COMEDY)
    assert out.action == "ask" and out.preselected == [out.candidates[1], out.candidates[0], out.candidates[2]]
    no_refine = run(context, ScriptedLM(rules(**{"[[ ## items ## ]]": {"reason": "unsure", "action": "ask"}})), "no-refine",
                    dialogue=COMEDY)
    assert no_refine.preselected == no_refine.candidates[:3]  # it recommends the tool's top items as they are


def test_no_llm2rs_skips_extraction(context):
    lm = ScriptedLM(rules())
    out = run(context, lm, "no-llm2rs")
    assert lm.calls["[[ ## nodes ## ]]"] == 0 and out.preferences == []
    assert len(out.candidates) == 6


def test_no_refine_recommends_the_tool_top_items(context):
    lm = ScriptedLM(rules())
    out = run(context, lm, "no-refine")
    assert lm.calls["[[ ## candidates ## ]]"] == 0
    assert out["items"] == out.candidates[:3]


def test_lm_reply_uses_the_response_signature(context):
    lm = ScriptedLM(rules(**{"[[ ## content ## ]]": {"reply": "Try these comedies!"}}))
    out = run(context, lm, config=AFIRSConfig(n_candidates=6, n_recommend=3, lm_reply=True))
    assert out.reply == "Try these comedies!"


def test_bad_dialogue_is_rejected(context):
    program = build_program("afirs", context)
    with pytest.raises(ValueError, match="must end with a user message"):
        program(dialogue=[{"role": "assistant", "content": "hi"}], history=[])


def test_a_preference_with_too_few_candidates_widens_up_the_tree_and_says_so(context):
    # "Romantic comedy" (3 items) is too few for 6 candidates: its parent Comedy's items (6) come next.
    stage = build_program("afirs", context, AFIRSConfig(n_candidates=6, n_recommend=3)).action_stage
    trace = []
    result = stage.candidates([1], [12], trace)
    assert result.widened == (("12", "3"),) and result.relaxed == ()
    assert set(result.items) <= set(context.tree.node_items(3).tolist()) and "partial" in result.stages
    assert "'12' → '3'" in trace[-1]["note"]
    drop_only = build_program("afirs", context, AFIRSConfig(n_candidates=6, n_recommend=3, relax_up_tree=False))
    dropped = drop_only.action_stage.candidates([1], [12], [])
    assert dropped.widened == () and dropped.relaxed == ("12",) and "sasrec" in dropped.stages


@pytest.mark.parametrize("bad", [{"extraction": "greedy"}, {"relax_up_tree": "yes"}])
def test_extraction_and_relaxation_settings_are_checked(bad):
    with pytest.raises(ValueError, match="extraction must be one of|relax_up_tree must be true or false"):
        AFIRSConfig(**bad)


def test_levelwise_extraction_stays_selectable(context):
    lm = ScriptedLM(rules())
    out = run(context, lm, config=AFIRSConfig(n_candidates=6, n_recommend=3, extraction="levelwise"))
    assert out.preferences == ["Genre > Main genres > Comedy"]
    assert [e["step"] for e in out.trace][:2] == ["select_level_1", "select_level_2"]
