"""Code-side helpers of the programs: the candidate distribution, title matching, guarded calls, dialogue rendering."""
from __future__ import annotations

import dataclasses

import dspy
import pandas as pd
import pytest

from afirs_dspy.domain.candidate_distribution import split_aspects
from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.programs.decision_stage import fallback_question
from afirs_dspy.programs.dialogue import render_conversation
from afirs_dspy.programs.guarded import InvalidOutput, guarded_call, ranked_picks, valid_numbers
from afirs_dspy.programs.titles import match_titles
from afirs_dspy.programs.turn import template_reply
from afirs_dspy.signatures import SelectNodes
from scripted import ScriptedLM
from toy_world import toy_items, toy_tree


def test_split_aspects_ranks_by_expected_information_gain():
    tree = toy_tree(toy_items())
    # Items 4, 8, 12 are comedies, 1 a drama; moods: 4 and 1 dark, 8 tense, 12 funny.
    aspects = split_aspects(tree, [4, 8, 12, 1], min_holders=1)
    assert [a.path for a in aspects] == ["Mood > Feel", "Genre > Main genres"]
    mood, genre = aspects
    assert dict(mood.options) == {"dark": 2, "tense": 1, "funny": 1} and mood.total == 4
    assert dict(genre.options) == {"Comedy": 3, "Drama": 1}
    # The answer partitions the candidates: moods {2, 1, 1} → 1.5 bits, 6/4 left; genres {3, 1} → H(1/4), 10/4 left.
    assert (mood.bits, mood.expected_left) == (1.5, 1.5)
    assert genre.bits == pytest.approx(0.811278, abs=1e-6) and genre.expected_left == 2.5
    assert mood.render() == "Mood > Feel: dark (2 of 4), funny (1 of 4), tense (1 of 4)"
    assert fallback_question(tree, mood) == "Do you have a preference regarding feel, such as dark, funny or tense?"
    listed = dataclasses.replace(mood, path="Mood > dark, funny")  # a subcategory named after its attributes
    assert fallback_question(tree, listed) == "Which would you like: dark, funny or tense?"
    single = dataclasses.replace(listed, options=(("dark", 2),))  # one option splits: a yes/no question
    assert fallback_question(tree, single) == "Which would you like: dark, or something else?"


def test_split_aspects_leaves_out_settled_aspects_and_named_options():
    tree = toy_tree(toy_items())
    assert [a.path for a in split_aspects(tree, [4, 8, 12, 1], exclude_aspects=frozenset({8}), min_holders=1)] \
        == ["Genre > Main genres"]
    mood = split_aspects(tree, [4, 8, 12, 1], exclude_options=frozenset({10}), min_holders=1)[0]  # "dark" named
    assert dict(mood.options) == {"funny": 1, "tense": 1}


def test_an_option_held_by_too_few_candidates_is_not_offered():
    tree = toy_tree(toy_items())
    # Of 4 candidates, "tense", "funny" and "Drama" are held by one each: not options.
    aspects = split_aspects(tree, [4, 8, 12, 1])
    assert [(a.path, dict(a.options)) for a in aspects] == [("Mood > Feel", {"dark": 2}),
                                                            ("Genre > Main genres", {"Comedy": 3})]
    # Of 24 items a tenth is 3: every genre (6 items) and mood (8) is held by enough.
    assert {name for a in split_aspects(tree, list(range(1, 25))) for name, _ in a.options} == {
        "Comedy", "Drama", "Horror", "Science Fiction", "funny", "dark", "tense"}


def test_split_aspects_of_identical_items_is_empty():
    tree = toy_tree(toy_items())
    assert split_aspects(tree, [4, 16]) == []  # both dark comedies: nothing splits them
    assert split_aspects(tree, []) == []
    assert fallback_question(tree, None) == "Could you tell me more about what you are looking for?"


def test_catalog_title_matching():
    catalog = Catalog(toy_items())
    assert catalog.match_title("Film 3 (1993)") == 3
    assert catalog.match_title("film 3") == 3  # year and case ignored
    assert catalog.match_title("Film 13!") == 13
    assert catalog.match_title("The Godfather") is None
    assert catalog.numbered([2, 3])[1] == "2. Film 3 (1993) — Science Fiction, funny"


def movielens_catalog() -> Catalog:
    titles = ["Shawshank Redemption, The (1994)", "Matrix, The (1999)", "Ocean's Eleven (1960)",
              "Ocean's Eleven (2001)", "Seven (a.k.a. Se7en) (1995)", "Portal 2"]
    return Catalog(pd.DataFrame({"idx": range(1, 7), "item_id": [str(i) for i in range(1, 7)], "title": titles,
                                 "description": "", "attributes": [[] for _ in titles]}))


@pytest.mark.parametrize("named, idx", [
    ("The Shawshank Redemption", 1),  # MovieLens writes "Title, The (Year)"
    ("the shawshank redemption (1994)", 1),
    ("Shawshank Redemption, The", 1),
    ("The Matrix (1999)", 2),
    ("The Matrix (2000)", 2),  # a year off by one still agrees
    ("The Matrix (1985)", None),  # a different year is a different film
    ("Ocean's Eleven (2001)", 4),  # remakes stay apart
    ("Ocean's Eleven (1960)", 3),
    ("Oceans Eleven (2001)", 4),  # close forms keep the year too
    ("Se7en", 5),
    ("Portal 2 (2011)", 6),  # a catalog title without a year takes any
])
def test_catalog_matches_every_title_form_and_keeps_the_year(named, idx):
    assert movielens_catalog().match_title(named) == idx


def test_title_baselines_map_titles_in_any_form():
    trace = []
    assert match_titles(movielens_catalog(), ["The Matrix", "The Shawshank Redemption (1994)", "Heat"], {1}, trace) == [2]
    assert trace[0]["unmatched"] == ["Heat"]


def test_catalog_descriptions_by_item_id_empty_when_missing():
    items = toy_items()
    items.loc[items.idx == 3, "description"] = "A robot story"
    items.loc[items.idx == 4, "description"] = None
    catalog = Catalog(items)
    assert catalog.descriptions[3] == "A robot story"
    assert catalog.descriptions[0] == catalog.descriptions[4] == catalog.descriptions[5] == ""
    assert len(catalog.descriptions) == len(catalog) + 1


def test_valid_numbers_and_ranked_picks():
    assert valid_numbers([3, 1, 3], 3) == [2, 0]
    with pytest.raises(InvalidOutput, match=r"numbers \[4\] are not among 1..3"):
        valid_numbers([1, 4], 3)
    assert ranked_picks([3], ["a", "b", "c", "d"], 3) == ["c", "a", "b"]
    with pytest.raises(InvalidOutput):
        ranked_picks([], ["a"], 1)


def test_guarded_call_retries_with_a_fresh_rollout_then_succeeds():
    answers = iter([{"selected": "[9]"}, {"selected": "[1]"}])
    lm = ScriptedLM({"[[ ## nodes ## ]]": lambda _: next(answers)})
    trace = []
    with dspy.context(lm=lm):
        picks = guarded_call(dspy.Predict(SelectNodes), lambda p: valid_numbers(p.selected, 2), list, trace, "select",
                             user_responses="x", nodes=["1. a", "2. b"])
    assert picks == [0]
    assert trace == [{"step": "select", "status": "retried", "errors": ["InvalidOutput: numbers [9] are not among 1..2"]}]
    assert lm.history[-1]["kwargs"].get("rollout_id") == 1


def test_the_lm_sees_a_past_recommendation_as_its_number_of_titles_only_when_asked():
    reply = template_reply("recommend", ["Zombieland (2009)", "Shaun of the Dead (2004)"], "")
    dialogue = [{"role": "user", "content": "a zombie comedy"}, {"role": "assistant", "content": reply},
                {"role": "user", "content": "Not those. It should be Horror."},
                {"role": "assistant", "content": "You might like a quieter film?"}, {"role": "user", "content": "yes"}]
    brief = render_conversation(dialogue, brief_lists=True)
    assert brief.splitlines()[1] == "Recommender: You might like: [2 titles]"
    assert brief.splitlines()[3] == "Recommender: You might like a quieter film?"  # not the template: kept
    assert render_conversation(dialogue).splitlines()[1] == f"Recommender: {reply}"
