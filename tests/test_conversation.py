"""Issue 31: a conversation, not a string of first turns. The session remembers what it showed (never again
once rejected), the preferences in force (kept through "no, none of those", added to by new wishes, withdrawn
or replaced when the user says so) and the critiques (years, refused attributes, "something different"); the
state travels in the dialogue, and a text-only dialogue is read back to the same state."""
from __future__ import annotations

import dspy
import pytest

from afirs_dspy.domain.session import (
    MessageEffects, SessionState, advance, common_attributes, excluded_items, rejected_items, resolve_years, shown_items,
)
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from afirs_dspy.text.user_words import YearWish
from test_eval_runner import toy_lm
from toy_world import toy_context

SIZES = AFIRSConfig(n_candidates=6, n_recommend=3)
COMEDY, DRAMA, HORROR, FUNNY, DARK, TENSE = 3, 4, 5, 9, 10, 11  # toy tree nodes


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def user(text):
    return {"role": "user", "content": text}


def any_method_lm():
    """The toy LM, answering the decision-first baselines too (they decide to recommend)."""
    lm = toy_lm()
    lm.rules = {**lm.rules, "(`action`).": {"action": "recommend"},
                "[[ ## attributes ## ]]": {"required": "[]", "excluded": "[]"}}
    return lm


def talk(context, texts, method="afirs", config=SIZES, lm=None, keep_messages=True):
    """Each text as a user turn, the program's message appended after each; returns the turns."""
    program = build_program(method, context, config)
    dialogue, turns = [], []
    with dspy.context(lm=lm or toy_lm()):
        for text in texts:
            dialogue.append(user(text))
            turns.append(program(dialogue=list(dialogue), history=[1, 2]))
            message = turns[-1].message
            dialogue.append(message if keep_messages else {"role": "assistant", "content": message["content"]})
    return turns


def shown(turns):
    return [t["items"] for t in turns if t.action == "recommend"]


# -- the state, in code -----------------------------------------------------------------------------------

def test_a_state_round_trips_and_a_foreign_one_is_refused(context):
    state = SessionState(preferences=(COMEDY,), refused=(HORROR,), years=(2001, None), avoided=(DARK,))
    assert SessionState.from_json(state.as_json(), context.tree) == state
    for bad in ([1], {"preferences": [999]}, {"preferences": ["3"]}, {"years": [2001]}, {"refused": [True]}):
        assert SessionState.from_json(bad, context.tree) is None


def test_preferences_accumulate_and_are_withdrawn_refused_or_replaced(context):
    tree, catalog = context.tree, context.catalog
    state, _ = advance(SessionState(), MessageEffects(wished=(COMEDY,)), tree, catalog, [])
    state, notes = advance(state, MessageEffects(), tree, catalog, [])  # "No, none of those": nothing changes
    assert state.preferences == (COMEDY,) and notes == []
    state, _ = advance(state, MessageEffects(wished=(DARK,)), tree, catalog, [])
    assert state.preferences == (COMEDY, DARK)
    state, notes = advance(state, MessageEffects(withdrawn=(DARK,)), tree, catalog, [])
    assert state.preferences == (COMEDY,) and notes == ["withdrew 'dark'"]
    state, _ = advance(state, MessageEffects(refused=(COMEDY,)), tree, catalog, [])
    assert state.preferences == () and state.refused == (COMEDY,)
    state, _ = advance(state, MessageEffects(wished=(COMEDY, FUNNY)), tree, catalog, [])  # asked for again
    assert state.preferences == (COMEDY, FUNNY) and state.refused == ()
    state, notes = advance(state, MessageEffects(wished=(DRAMA,), changes_mind=True), tree, catalog, [])
    assert state.preferences == (DRAMA,) and "changed their mind" in notes[0]


def test_years_are_relative_to_the_last_list_and_bound_the_items(context):
    catalog = context.catalog  # Film i came out in 1990 + i
    assert resolve_years(YearWish(direction="later"), catalog, [4, 8, 12]) == (1999, None)
    assert resolve_years(YearWish(direction="earlier"), catalog, [4, 8, 12]) == (None, 1997)
    assert resolve_years(YearWish(start=2000, end=2009), catalog, []) == (2000, 2009)
    state = SessionState(years=(2000, 2009), refused=(HORROR,))
    excluded = set(excluded_items(state, context.tree, catalog, rejected=[12]).tolist())
    horror = set(context.tree.node_items(HORROR).tolist())
    inside = {i for i in range(10, 20)}
    assert excluded == (set(range(1, 25)) - inside) | horror | {12}


def test_shown_items_are_read_from_the_message_or_its_titles(context):
    catalog = context.catalog
    assert shown_items({"role": "assistant", "content": "x", "items": [3, 4]}, catalog) == [3, 4]
    text = {"role": "assistant", "content": "You might like: Film 3 (1993); Film 14 (2004)."}
    assert shown_items(text, catalog) == [3, 14]
    assert shown_items({"role": "assistant", "content": "Which genre?"}, catalog) == []
    dialogue = [user("a comedy"), text, user("Tell me more about Film 14")]
    assert rejected_items(dialogue, catalog) == [3]  # the user named Film 14: not rejected


# -- the program, turn after turn ---------------------------------------------------------------------------

@pytest.mark.parametrize("keep_messages", [True, False])
def test_a_rejected_list_never_comes_back_and_the_preferences_stay(context, keep_messages):
    turns = talk(context, ["I want a Comedy, something funny", "No, none of those is it.", "Not what I want, sorry.",
                           "Seen them all, any others?"], keep_messages=keep_messages)
    lists = shown(turns)
    assert len(lists) == 4
    seen: set[int] = set()
    for items in lists:
        assert items and not seen & set(items)
        seen |= set(items)
    for turn in turns:
        assert turn.session.state.preferences == (COMEDY, FUNNY)  # never lost on "no, none of those"
    assert turns[1].session.rejected == lists[0]


def test_the_state_travels_in_the_message_and_the_next_turn_reads_only_the_new_message(context):
    lm = toy_lm()
    turns = talk(context, ["I want a Comedy", "No, none of those is it."], lm=lm)
    assert turns[0].message["session"]["preferences"] == [COMEDY] and turns[0].message["items"] == turns[0]["items"]
    # the second message has no wish: the extraction's LM is not asked again
    assert lm.calls["[[ ## nodes ## ]]"] == 0 and turns[1].session.notes == []


def test_critiques_act_on_the_candidates(context):
    turns = talk(context, ["I want a Comedy, something funny", "Something more recent please, and no Horror"])
    first, second = turns
    pivot = sorted(context.catalog.years[i] for i in first["items"])[1]
    horror = set(context.tree.node_items(HORROR).tolist())
    assert second.session.state.years == (pivot + 1, None) and second.session.state.refused == (HORROR,)
    assert all(context.catalog.years[i] > pivot for i in second.candidates)
    assert not horror & set(second.candidates) and second.session.state.preferences == (COMEDY, FUNNY)
    assert second.user_preferences.constraints == [f"released {pivot + 1}–…"]


def test_a_critique_gets_a_list_without_asking_the_lm(context):
    first, second = talk(context, ["I want a Comedy, something funny", "Something more recent please"])
    assert first.action == "recommend" and second.action == "recommend"
    steps = [event["step"] for event in second.trace]
    assert "critique" in steps and "decide" not in steps  # the user asked for another list
    assert second["items"] and all(context.catalog.years[i] >= second.session.state.years[0] for i in second["items"])
    # a first message's refusal critiques no list: the LM decides
    (only,) = talk(context, ["A Drama, but no Horror"])
    assert "decide" in [event["step"] for event in only.trace]


def test_something_different_moves_away_from_what_the_last_list_shared(context):
    tree = context.tree
    # Films 4, 8 and 16 are comedies, 4 and 16 dark: both are shared, unless the user asked for one of them.
    assert common_attributes(tree, [4, 8, 16]) == (COMEDY, DARK)
    assert common_attributes(tree, [4, 8, 16], keep=(DARK,)) == (COMEDY,)
    turns = talk(context, ["I want a Comedy, something funny", "Something completely different please"])
    first, second = turns
    assert second.session.state.preferences == (COMEDY, FUNNY)  # what was asked for stays
    assert second.session.state.avoided == common_attributes(tree, first["items"], (COMEDY, FUNNY))
    assert any("something different" in note for note in second.session.notes)


@pytest.mark.parametrize("method", ["decision-first", "no-llm2rs", "no-refine", "llmcrs", "interecagent"])
def test_every_method_leaves_the_rejected_items_out(context, method):
    turns = talk(context, ["I want a Comedy, something funny", "No, none of those is it.", "Any others?"],
                 method=method, lm=any_method_lm())
    seen: set[int] = set()
    for turn in turns:
        assert not seen & set(turn["items"]), method
        assert turn.preselected is None or not seen & set(turn.preselected)
        seen |= set(turn["items"])
