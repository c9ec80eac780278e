"""Issue 15: the summary checked against the user's words, the scored refinement, the input-order note,
and the decision that sees computed evidence (scripted LM, toy world)."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from afirs_dspy.programs.action_stage import INPUT_ORDER, is_input_order
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.decision_policies import always_ask, always_recommend, recommend_if_share
from afirs_dspy.programs.preference_match import PreferenceMatcher
from afirs_dspy.programs.registry import build_program
from afirs_dspy.programs.summary_check import check_summary
from afirs_dspy.signatures import UserPreferences
from scripted import ScriptedLM, field, listed
from test_programs_afirs import rules, run
from toy_world import toy_context

SIZES = {"n_candidates": 6, "n_recommend": 3}
DARK_COMEDY = [{"role": "user", "content": "I want a Comedy, something dark but not tense"}]


def summary(likes=(), dislikes=(), constraints=()):
    return {"preferences": json.dumps({"likes": list(likes), "dislikes": list(dislikes),
                                       "constraints": list(constraints)})}


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def test_summary_fields_carry_no_example_the_model_could_copy():
    for name, info in UserPreferences.model_fields.items():
        assert "e.g." not in info.description and not any(ch.isdigit() for ch in info.description), name


def test_invented_flipped_and_copied_phrases_are_dropped_or_moved(context):
    # The turn: the wishes put in dislikes, the field's example copied as a constraint.
    bad = summary(likes=["zombies", "tense", "romance"], dislikes=["dark", "Comedy"],
                  constraints=["released after 2010"])
    lm = ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": bad}))
    out = run(context, lm, config=AFIRSConfig(**SIZES, summary="checked"), dialogue=DARK_COMEDY)
    # "zombies", "romance" and the constraint were never said; "tense" was refused; "dark" and "Comedy" wanted.
    assert out.user_preferences == UserPreferences(likes=["Comedy", "dark"], dislikes=["tense"], constraints=[])
    note = next(e for e in out.trace if e["step"] == "summarize")["note"]
    assert "dropped constraint 'released after 2010'" in note and "moved like 'tense' to dislikes" in note
    # The extracted nodes are the likes only because none of the LM's likes survived.
    assert "the extracted preferences ['Comedy', 'dark'] are the likes" in note
    unchecked = run(context, ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": bad})),
                    config=AFIRSConfig(**SIZES, summary="lm"), dialogue=DARK_COMEDY)
    assert unchecked.user_preferences.constraints == ["released after 2010"]


def test_summary_check_keeps_grounded_phrases_and_reads_negations():
    said = "I'm in the mood for a scary movie with zombies, but also funny. No gore please."
    checked, _ = check_summary(UserPreferences(likes=["funny", "gore"], dislikes=["scary", "zombies", "no gore"]), said)
    assert checked == UserPreferences(likes=["funny"], dislikes=["gore"])
    # The latest mention decides: refused first, then asked for.
    checked, _ = check_summary(UserPreferences(likes=["horror"]), "Not horror. Actually, horror is fine")
    assert checked.likes == ["horror"]


def test_scored_refinement_puts_the_item_matching_every_wish_first(context):
    lm = ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": summary(likes=["dark"])}))
    out = run(context, lm, config=AFIRSConfig(**SIZES, refinement="score"), dialogue=DARK_COMEDY)
    # Films 4 and 16 are the dark comedies (the candidates are the six comedies); no refinement LM call.
    assert set(out["items"][:2]) == {4, 16} and lm.calls["[[ ## candidates ## ]]"] == 0
    assert next(e for e in out.trace if e["step"] == "refine")["note"] == "ordered by the preference score"


def test_matcher_orders_by_nodes_likes_and_dislikes(context):
    matcher = PreferenceMatcher(context.tree, context.catalog, context.embedder)
    comedy = 3
    items = [8, 12, 13, 4]  # tense comedy, funny comedy, dark drama, dark comedy: the tool's order
    ranked = matcher.order(items, [comedy], UserPreferences(likes=["dark"], dislikes=["tense"]))
    assert ranked[0] == 4 and ranked[-1] == 8
    evidence = matcher.evidence(items, [comedy], UserPreferences(likes=["dark"], dislikes=["tense"]))
    assert (evidence.with_every_preference, evidence.matching_a_like, evidence.with_a_dislike) == (3, 2, 1)
    assert evidence.match_share == pytest.approx((3 + 2) / 8)


def test_the_lm_reranks_a_shortlist_and_echoing_it_is_noted(context):
    shown = {}

    def echo(prompt):
        shown["candidates"] = listed(prompt, "candidates")
        return {"selected": "[1, 2, 3]"}

    lm = ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": summary(likes=["dark"]), "[[ ## candidates ## ]]": echo}))
    out = run(context, lm, config=AFIRSConfig(n_candidates=20, n_recommend=3, refinement="scored"), dialogue=DARK_COMEDY)
    refine = next(e for e in out.trace if e["step"] == "refine")
    assert refine["note"] == INPUT_ORDER and len(shown["candidates"]) == 15  # the shortlist, not all 20
    assert shown["candidates"][0].split(" (")[0] in ("1. Film 4", "1. Film 16")  # shown by score: a dark comedy
    assert is_input_order([1, 2, 3]) and not is_input_order([2, 1, 3]) and not is_input_order([1])


def test_an_unusable_scored_refinement_costs_no_second_prompt(context):
    lm = ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": summary(likes=["dark"]),
                             "[[ ## candidates ## ]]": {"selected": "[99]"}}))
    out = run(context, lm, config=AFIRSConfig(**SIZES, refinement="scored"), dialogue=DARK_COMEDY)
    assert lm.calls["[[ ## candidates ## ]]"] == 1 and set(out["items"][:2]) == {4, 16}  # the score order


def test_the_decision_sees_the_evidence_and_falls_back_to_its_policy(context):
    seen = {}

    def decide(prompt):
        seen["evidence"] = field(prompt, "evidence")
        return "no fields here"

    lm = ScriptedLM(rules(**{"`[[ ## preferences ## ]]`": summary(likes=["dark"]), "[[ ## items ## ]]": decide}))
    out = run(context, lm, config=AFIRSConfig(**SIZES, refinement="score"), dialogue=DARK_COMEDY)
    # The session's preferences (the names said) are the likes, the refused "tense" the dislike.
    assert seen["evidence"] == ("2 of 3 items carry every extracted preference (Comedy, dark); 3 of 3 items match "
                                "a stated like (Comedy, dark); 0 of 3 items hold a stated dislike (tense); "
                                "match share 0.83.")
    # Unparsable: no retry, the evidence's policy (match share 0.83 >= 0.5) recommends. (The adapter's
    # own JSON re-try is the adapter's business.)
    decide = next(e for e in out.trace if e["step"] == "decide")
    assert decide["status"] == "fallback" and len(decide["errors"]) == 1 and out.action == "recommend"


def test_trivial_policies(context):
    matcher = PreferenceMatcher(context.tree, context.catalog, context.embedder)
    fits = matcher.evidence([12, 24], [3], UserPreferences(likes=["funny"]))
    misses = matcher.evidence([2, 6], [3], UserPreferences(likes=["funny"]))
    assert always_recommend(misses) == "recommend" and always_ask(fits) == "ask"
    assert recommend_if_share(0.5)(fits) == "recommend" and recommend_if_share(0.5)(misses) == "ask"


def test_unknown_refinement_is_refused():
    with pytest.raises(ValueError, match="refinement must be one of"):
        AFIRSConfig(refinement="llm")
    with pytest.raises(ValueError, match="similarity_weight must be a number >= 0"):
        AFIRSConfig(similarity_weight=-1.0)


def test_the_similarity_weight_is_the_datasets_unless_the_config_sets_it(context):
    assert build_program("afirs", context).matcher.weights.similarity == 1.0  # ml-latest-small: issue 15's
    steam = replace(context, dataset=replace(context.dataset, name="steam"))
    program = build_program("afirs", steam)
    assert program.config.similarity_weight == 0.0 and program.matcher.item_vectors is None  # none loaded
    assert build_program("afirs", steam, AFIRSConfig(similarity_weight=0.5)).matcher.weights.similarity == 0.5
