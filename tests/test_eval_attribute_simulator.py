"""The deterministic attribute simulator on the toy world (item i: GENRES[i % 4], MOODS[i % 3]; every
genre is carried by 6 items, every mood by 8)."""
from __future__ import annotations

import dspy
import pytest

from afirs_dspy.evaluation.attribute_simulator import AttributeSimulatorConfig, AttributeSimulators, spoken_list
from afirs_dspy.evaluation.leakage import names_title
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.speakable import SpeakableAttributes
from scripted import BagOfWordsEmbedder
from toy_world import toy_context

ASK = dspy.Prediction(action="ask", items=[], question="Which genre do you like: Comedy, Drama or Horror?")
WRONG = dspy.Prediction(action="recommend", items=[1, 2], question="")
RIGHT = dspy.Prediction(action="recommend", items=[1, 5], question="")


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def user(context, target=5, n_open=1, seed=0, user_id="u", min_support=5, min_open_items=1):
    """A simulated user (history: items 1 and 2); the toy catalog is too small for the default opener rule."""
    config = AttributeSimulatorConfig(min_support=min_support, n_open=n_open, n_answer=1, min_open_items=min_open_items)
    return AttributeSimulators(context, seed, config)(SessionCase(user_id, target, (1, 2)))


def test_spoken_list():
    assert spoken_list(["a"]) == "a" and spoken_list(["a", "b", "c"]) == "a, b and c"


def test_it_opens_with_target_attributes(context):
    sim = user(context, n_open=1)  # item 5: Drama, tense
    opener = sim.open()
    assert len(sim.revealed) == 1 and sim.revealed[0] in opener and sim.revealed[0] in ("Drama", "tense")
    assert user(context, n_open=0).open() == "Can you recommend some movies?"


def test_the_opener_leaves_a_choice(context):
    # Item 5 is a tense Drama; unseen (not items 1, 2): 5 Dramas, 7 tense items, 2 tense Dramas (5 and 17).
    assert user(context, n_open=2, min_open_items=2).opener in (["Drama", "tense"], ["tense", "Drama"])
    for seed in range(6):  # the pair leaves too few: one attribute, whichever the seed puts first
        assert user(context, n_open=2, min_open_items=3, seed=seed).opener in (["Drama"], ["tense"])
    assert user(context, n_open=2, min_open_items=6).opener == ["tense"]  # only "tense" leaves 6
    sim = user(context, n_open=2, min_open_items=8)  # nothing leaves 8: the user opens without attributes
    assert sim.opener == [] and sim.open() == "Can you recommend some movies?"
    world = sim.world
    assert world.items_left(["tense"], (1, 2)) == 7 and world.items_left(["Drama", "tense"], (1, 2)) == 2


def test_refusals_reveal_one_attribute_at_a_time_from_general_to_specific(context):
    context.catalog.attributes[5] = ["Drama", "cult", "tense"]
    for item in (6, 7, 8, 9):  # "cult": 5 items, "Drama": 6, "tense": 8
        context.catalog.attributes[item] = [*context.catalog.attributes[item], "cult"]
    for seed in range(4):
        sim = user(context, n_open=0, seed=seed)
        sim.open()
        for _ in range(3):
            sim.respond(WRONG, [])
        assert sim.revealed == ["tense", "Drama", "cult"]


def test_a_question_is_answered_with_the_most_related_attribute(context):
    sim = user(context, n_open=0)
    sim.open()
    answer = sim.respond(ASK, [])
    assert sim.revealed == ["Drama"] and "Drama" in answer and "tense" not in answer
    assert "tense" in sim.respond(ASK, [])  # the genre is known: the next most related attribute
    assert "Drama" in sim.respond(ASK, [])  # all said: the most related one again


def test_ranking_follows_the_question(context):
    sim = user(context)
    assert sim.ranked("Any drama?")[0] == "Drama"
    assert sim.ranked("How tense should it be?")[0] == "tense"


class RecordingEmbedder(BagOfWordsEmbedder):
    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += texts
        return super().encode(texts)


def test_ranking_reads_attribute_text_alone_never_a_methods_tree(context):
    context.embedder = RecordingEmbedder()
    context.tree = None  # no method's artifact is there to read
    sim = user(context)
    question = "Which genre would you like?"  # "genre" is a word of the tree's path to Drama, not of "Drama"
    assert sim.ranked(question) == sim.order  # no attribute's text relates: the session's order stands
    assert set(context.embedder.seen) == {"Drama", "tense", question}
    sim.ranked(question)
    assert len(context.embedder.seen) == 3  # a run encodes each text once


def test_only_attributes_shared_by_enough_items_are_spoken(context):
    for item in (5, 6, 7, 8):  # "cult" is carried by 4 items
        context.catalog.attributes[item] = [*context.catalog.attributes[item], "cult"]
    assert "cult" not in user(context, n_open=3).order
    assert "cult" in user(context, n_open=3, min_support=4).order
    with pytest.raises(ValueError, match="at least 2"):
        user(context, min_support=1)


def test_supports_are_counted_case_insensitively(context):
    context.catalog.attributes[5] = ["Drama", "tense", "Cult"]
    for item in (6, 7, 8, 9):
        context.catalog.attributes[item] = [*context.catalog.attributes[item], "cult"]
    speakable = SpeakableAttributes(context.catalog, 5)
    assert speakable.support["cult"] == 5 and speakable.of(5) == ["Drama", "tense", "Cult"]


def test_no_fragment_of_the_title_is_spoken(context):
    context.catalog.titles[5] = "Shawshank Redemption, The (1994)"
    for item in range(1, 8):  # common enough to be spoken, were they not part of the title
        context.catalog.attributes[item] = [*context.catalog.attributes[item], "redemption", "the shawshank", "1994"]
    assert set(user(context, n_open=5).order) == {"Drama", "tense"}
    assert set(user(context, target=6, n_open=5).order) == {"Horror", "funny", "redemption", "the shawshank", "1994"}


def test_acceptance_is_by_ids_and_a_refusal_reveals_one_more_attribute(context):
    sim = user(context)
    sim.open()
    refusal = sim.respond(WRONG, [])
    assert len(sim.revealed) == 2 and sim.revealed[1] in refusal
    assert sim.respond(WRONG, []) in ("No, none of those is it.", "Not what I want, sorry.")  # nothing left to say
    assert sim.respond(RIGHT, []) in ("Yes, that's exactly what I was looking for!", "Great, I'll take that one.")
    assert not sim.ended


def test_same_seed_same_words_and_other_seeds_vary(context):
    assert user(context).open() == user(context).open()
    openers = {user(context, seed=s, n_open=2).open() for s in range(12)}
    assert len(openers) > 1


def test_it_never_names_the_title(context):
    items = context.dataset.items
    context.catalog.attributes[5] = ["Drama", "Film 5", "tense"]  # an attribute that would name the title
    sim = user(context, n_open=3)
    said = [sim.open(), sim.respond(ASK, []), sim.respond(WRONG, [])]
    assert "Film 5" not in sim.order and not any(names_title(s, items.title[4]) for s in said)


def test_a_near_miss_of_the_title_is_no_leak(context):
    context.catalog.titles[5] = "Hand Simulator"  # fuzzy matching takes "… and Simulation" for it
    context.catalog.attributes[5] = ["Steam Trading Cards", "Simulation"]
    for item in range(6, 12):
        context.catalog.attributes[item] = ["Steam Trading Cards", "Simulation"]
    sim = user(context, n_open=2)
    assert sim.open().endswith(("Steam Trading Cards and Simulation.", "Simulation and Steam Trading Cards."))
    assert sim.stats.leaks == 0 and sim.trace[0]["status"] == "ok"
