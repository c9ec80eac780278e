"""Title leakage: fuzzy detection and stripping, and the LLM simulator's guard (regenerate, then strip)."""
from __future__ import annotations

import dspy
import pytest

from afirs_dspy.evaluation.leakage import find_title, is_title_fragment, names_title, strip_title
from afirs_dspy.evaluation.llm_simulator import FALLBACK_REPLY, LLMSimulators, target_info
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.speakable import SpeakableAttributes
from scripted import ScriptedLM, field
from afirs_dspy.text.title_forms import title_variants
from toy_world import toy_context

SIM = "[[ ## target_recommended ## ]]"


def test_variants_cover_moved_articles_and_alternative_titles():
    assert title_variants("Matrix, The (1999)") == ["Matrix, The", "The Matrix"]
    assert title_variants("Seven (a.k.a. Se7en) (1995)") == ["Seven (a.k.a. Se7en)", "Seven", "Se7en"]


@pytest.mark.parametrize("text, title, leaks", [
    ("I'd love something like the matrix.", "Matrix, The (1999)", True),
    ("Maybe Lord of the Rings: Fellowship of the Ring?", "Lord of the Rings: The Fellowship of the Ring, The (2001)", True),
    ("Something like Toy Storey", "Toy Story (1995)", True),  # a typo is still the title
    ("A story about toys", "Toy Story (1995)", False),
    ("Let's mix it up a bit", "Up (2009)", False),  # short titles only count written as in the title
    ("I want Up again", "Up (2009)", True),
    ("Something about aliens", "Alien (1979)", False),
])
def test_fuzzy_detection(text, title, leaks):
    assert names_title(text, title) is leaks


LOTR = "Lord of the Rings: The Fellowship of the Ring, The (2001)"


@pytest.mark.parametrize("attribute, title, fragment", [
    ("pulp", "Pulp Fiction (1994)", True),
    ("Pulp Fiction", "Pulp Fiction (1994)", True),
    ("1994", "Pulp Fiction (1994)", True),  # the year is part of the title too
    ("lord of the rings", LOTR, True),
    ("the lord of the rings", LOTR, True),  # through the moved article
    ("the shawshank", "Shawshank Redemption, The (1994)", True),
    ("alien", "Aliens (1986)", True),  # a plural s ignored
    ("indiana jones", "Indiana Jones and the Temple of Doom (1984)", True),
    ("se7en", "Seven (a.k.a. Se7en) (1995)", True),
    ("crime", "Pulp Fiction (1994)", False),
    ("fiction pulp", "Pulp Fiction (1994)", False),  # words out of order
    ("1995", "Pulp Fiction (1994)", False),
    ("ring wraiths", LOTR, False),
])
def test_title_fragments(attribute, title, fragment):
    assert is_title_fragment(attribute, title) is fragment


def test_stripping_replaces_every_mention():
    text = "I loved The Matrix! Something like the matrix, please."
    assert [text[a:b] for a, b in find_title(text, "Matrix, The (1999)")] == ["The Matrix", "the matrix"]
    assert strip_title(text, "Matrix, The (1999)") == "I loved that title! Something like that title, please."


@pytest.fixture
def context(tmp_path):
    return toy_context(tmp_path)


def simulator(context, replies, **options):
    """An LLM simulator for target 5 ("Film 5 (1995)") whose LM answers ``replies`` in turn (the last repeats)."""
    seen = []

    def answer(prompt):
        seen.append(prompt)
        return {"reply": replies[min(len(seen) - 1, len(replies) - 1)]}

    lm = ScriptedLM({SIM: answer})
    return LLMSimulators(context, lm, **options)(SessionCase("u", 5, (1, 2))), seen


def test_a_leaking_reply_is_regenerated(context):
    sim, seen = simulator(context, ["I want Film 5!", "I want a dark horror film."])
    assert sim.open() == "I want a dark horror film."
    assert (sim.stats.leaks, sim.stats.regenerations, sim.stats.stripped) == (1, 1, 0)
    assert sim.trace[0]["status"] == "retried" and len(seen) == 2
    # It knows its target as a person would: what the item is like, never its title.
    assert field(seen[0], "target_info") == "Attributes: Drama, tense." and "Film 5" not in seen[0]


def test_a_reply_still_leaking_after_the_bounded_regenerations_is_stripped(context):
    sim, seen = simulator(context, ["It's film 5, obviously."], max_regenerations=2)
    assert sim.open() == "It's that title, obviously."
    assert (sim.stats.leaks, sim.stats.regenerations, sim.stats.stripped) == (3, 2, 1) and len(seen) == 3
    assert sim.trace[0]["status"] == "fallback"


def test_the_simulator_is_told_by_ids_whether_the_target_was_recommended_and_may_end(context):
    sim, seen = simulator(context, ["Hi", "No thanks <END>"])
    sim.open()
    recommended = dspy.Prediction(action="recommend", items=[4, 5], question="", reply="Try Film 4, Film 5")
    assert sim.respond(recommended, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}]) == "No thanks"
    assert sim.ended and field(seen[-1], "target_recommended") == "True"
    assert field(seen[-1], "conversation") == "You: Hi" and field(seen[-1], "recommender_message") == "x"


def test_unparsable_output_falls_back_to_a_neutral_reply(context):
    lm = ScriptedLM({SIM: "no fields at all"})
    sim = LLMSimulators(context, lm, max_regenerations=1)(SessionCase("u", 5, ()))
    assert sim.respond(dspy.Prediction(action="ask", items=[], question="?"), [{"role": "assistant", "content": "?"}]) \
        == FALLBACK_REPLY
    assert sim.stats.parse_failures == 2 and sim.stats.fallbacks == 1


def test_dspy_field_markers_are_stripped_from_replies(context):
    sim, _ = simulator(context, ["I want a dark horror film. [[ ## completed ## ]]"])
    assert sim.open() == "I want a dark horror film."
    sim, _ = simulator(context, ["Something tense [[ ## completed ## ]] please"])
    assert sim.respond(dspy.Prediction(action="ask", items=[], question="?"),
                       [{"role": "assistant", "content": "?"}]) == "Something tense please"


def test_short_titles_are_caught_in_any_case_as_whole_words():
    assert names_title("i'd like something like heat", "Heat (1995)")
    assert names_title("JUMANJI please", "Jumanji (1995)") and names_title("se7en?", "Seven (a.k.a. Se7en) (1995)")
    assert not names_title("something with aliens", "Alien (1979)") and not names_title("heated debate", "Heat (1995)")
    # An everyday word counts only as the title writes it.
    assert not names_title("cheer me up", "Up (2009)") and names_title("I loved Up", "Up (2009)")


def test_the_simulator_is_told_only_speakable_attributes_and_a_description_without_the_title(context):
    context.catalog.attributes[5] = ["Drama", "tense", "one of a kind"]  # held by one item: not speakable
    context.catalog.descriptions[5] = "developer: Film 5 Studios; the sequel to film 5 classic"
    info = target_info(SpeakableAttributes(context.catalog, 5), 5)
    assert info == "Attributes: Drama, tense. Description: developer: this one Studios; the sequel to this one classic"
