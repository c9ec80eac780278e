"""Issue 22: questions never ask again what was asked or said; answers become preferences; the program
recommends when no aspect is left to ask about. Includes a replay of test user 364's session."""
from __future__ import annotations

import json

import dspy
import numpy as np
import pandas as pd
import pytest
import torch

from afirs_dspy.artifacts.context import ProgramContext
from afirs_dspy.domain.conversation_facts import asked_aspects, read_conversation
from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.domain.preference_tree import PreferenceTree, TreeNode
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.tool import RecsysTool
from scripted import BagOfWordsEmbedder, ScriptedLM, field, listed
from toy_world import toy_context, toy_items, toy_tree

PREFS = {"preferences": json.dumps({"likes": [], "dislikes": [], "constraints": []})}
GENRE, MOOD = 2, 8  # the toy tree's aspects: "Genre > Main genres" and "Mood > Feel"


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def named_in_text(always=("Genre", "Main genres")):
    """SelectNodes as a fair small LM: the shown nodes named in the user's text (and the genre branch)."""
    def rule(prompt):
        text = field(prompt, "user_responses").casefold()
        shown = [line.split(". ", 1) for line in listed(prompt, "nodes")]
        picks = [int(n) for n, path in shown
                 if path.split(" > ")[-1] in always or path.split(" > ")[-1].casefold() in text]
        return {"selected": json.dumps(picks)}
    return rule


def rules(decide, question="Which genre do you prefer, Drama or Comedy?"):
    """The issue's LM: it decides with ``decide(conversation)`` and always wants to ask ``question``."""
    return {
        "[[ ## nodes ## ]]": named_in_text(),
        "`[[ ## preferences ## ]]`": PREFS,
        "[[ ## candidates ## ]]": {"selected": "[1, 2, 3]"},
        "[[ ## items ## ]]": lambda p: {"reason": "-", "action": decide(field(p, "conversation"))},
        "(`action`).": lambda p: {"action": decide(field(p, "conversation"))},  # decision first
        "[[ ## candidate_distribution ## ]]": {"question": question},
    }


def always(action):
    return lambda conversation: action


# --- reading the conversation -------------------------------------------------------------------

def test_named_options_are_read_with_case_plurals_and_negation():
    tree = toy_tree(toy_items())
    facts = read_conversation(tree, [
        user("Comedies please, something FUNNY. Not horror, and I don't want anything dark"),
        assistant("You might like: Film 3 (1993)."),
        user("Science-fiction would be fine, but no drama"),
    ])
    names = {tree.nodes[n].name for n in facts.stated}, {tree.nodes[n].name for n in facts.rejected}
    assert names == ({"Comedy", "funny", "Science Fiction"}, {"Horror", "dark", "Drama"})
    assert facts.asked == frozenset()


def test_the_latest_mention_of_an_option_decides():
    tree = toy_tree(toy_items())
    facts = read_conversation(tree, [user("not a comedy"), assistant("Which feel: dark or tense?"), user("A comedy after all")])
    assert {tree.nodes[n].name for n in facts.stated} == {"Comedy"} and not facts.rejected


def test_a_question_reads_back_as_the_aspect_whose_options_it_names_most():
    tree = toy_tree(toy_items())
    assert asked_aspects(tree, "Do you prefer something dark, funny or tense?") == {MOOD}
    assert asked_aspects(tree, "A dark Comedy or a tense Drama, or a funny one?") == {MOOD}
    assert asked_aspects(tree, "A dark Comedy?") == {MOOD, GENRE}  # a tie: both count as asked
    assert asked_aspects(tree, "Could you tell me more?") == frozenset()
    dialogue = [user("hi"), assistant("Do you like dark films?"), user("yes"), assistant("You might like: Drama, Comedy.")]
    assert read_conversation(tree, dialogue).asked == {MOOD}  # a recommendation is not a question


def test_names_said_alike_count_once_and_the_catalog_word_is_no_option():
    base = toy_tree(toy_items())
    extra = [TreeNode(14, "comedies", 3, GENRE, (4,)), TreeNode(15, "movies", 3, MOOD, (5,))]  # tags
    tree = PreferenceTree([*base.nodes, *extra], n_items=base.n_items)
    facts = read_conversation(tree, [user("Can you recommend some movies? A Comedy, please.")])
    assert facts.stated == {3, 14}  # the genre and its namesake tag; "movies" is the root's word
    assert asked_aspects(tree, "A Comedy or a dark one?") == {GENRE, MOOD}  # one name each
    assert facts.session_preferences(tree, [GENRE]) == [GENRE, 3]  # the larger of the two namesakes


# --- the program --------------------------------------------------------------------------------

def turn(context, dialogue, lm, config=AFIRSConfig(n_candidates=6, n_recommend=3)):
    with dspy.context(lm=lm):
        return build_program("afirs", context, config)(dialogue=dialogue, history=[1, 2])


def test_an_aspect_already_asked_is_never_asked_again(tmp_path):
    context = toy_context(tmp_path)
    lm = ScriptedLM(rules(always("ask")))  # it always wants "Which genre do you prefer, Drama or Comedy?"
    dialogue = [user("Something to watch tonight")]
    first = turn(context, dialogue, lm)
    assert first.question == "Which genre do you prefer, Drama or Comedy?"  # genres split best: asked as phrased
    dialogue += [assistant(first.reply), user("Hmm, hard to say.")]
    second = turn(context, dialogue, lm)
    assert asked_aspects(context.tree, second.question) == {MOOD}  # not the genre question again
    assert next(e for e in second.trace if e["step"] == "ask")["status"] == "fallback"
    dialogue += [assistant(second.reply), user("No idea.")]
    third = turn(context, dialogue, lm)
    assert third.action == "recommend" and any(e["step"] == "no_question" for e in third.trace)


def test_the_lm_phrases_the_question_but_cannot_change_its_aspect(tmp_path):
    context = toy_context(tmp_path)
    # Moods split the comedies; the LM asks about genres, which the user has settled: rejected twice.
    lm = ScriptedLM(rules(always("ask")))
    out = turn(context, [user("I want a Comedy")], lm)
    assert out.action == "ask" and asked_aspects(context.tree, out.question) == {MOOD}
    assert out.question == "Do you have a preference regarding feel, such as funny, dark or tense?"
    assert next(e for e in out.trace if e["step"] == "ask")["status"] == "fallback"
    assert lm.calls["[[ ## candidate_distribution ## ]]"] == 1  # rejected once: the template, no second prompt
    # What the LM sees is the chosen aspect alone.
    seen = []

    def phrase(prompt):
        seen.append(field(prompt, "candidate_distribution"))
        return {"question": "Dark or tense?"}

    lm = ScriptedLM({**rules(always("ask")), "[[ ## candidate_distribution ## ]]": phrase})
    assert turn(context, [user("I want a Comedy")], lm).question == "Dark or tense?"
    assert seen == ["Mood > Feel: funny (2 of 6), dark (2 of 6), tense (2 of 6)"]
    # Naming the user's genre as often as the moods would read back as a genre question too: rejected.
    lm = ScriptedLM(rules(always("ask"), question="A dark Comedy, then?"))
    assert turn(context, [user("I want a Comedy")], lm).question.startswith("Do you have a preference regarding feel")


def test_an_answer_naming_several_options_of_the_asked_aspect_yields_all_of_them(tmp_path):
    context = toy_context(tmp_path)
    lm = ScriptedLM(rules(always("recommend")))
    dialogue = [user("Something to watch tonight"), assistant("Which genre: Comedy, Drama or Horror?"),
                user("Drama and Horror")]
    out = turn(context, dialogue, lm)
    assert set(out.preferences) == {"Genre > Main genres > Drama", "Genre > Main genres > Horror"}
    before = turn(context, dialogue, lm, AFIRSConfig(n_candidates=6, n_recommend=3, question_memory=False,
                                                     extraction="levelwise"))
    assert len(before.preferences) == 1  # the levelwise extraction alone keeps one node per level
    alone = turn(context, dialogue, lm, AFIRSConfig(n_candidates=6, n_recommend=3, question_memory=False))
    assert len(alone.preferences) == 2  # the confirming extraction keeps both wishes by itself


def test_a_rejected_option_is_no_preference_and_none_of_its_items_is_shown(tmp_path):
    context = toy_context(tmp_path)
    dialogue, lm = [user("Anything but not a Horror")], ScriptedLM(rules(always("recommend")))  # the LM picks Horror
    horror = set(context.tree.node_items(5).tolist())
    for extraction in ("confirm", "levelwise"):
        out = turn(context, dialogue, lm, AFIRSConfig(n_candidates=6, n_recommend=3, extraction=extraction))
        # "Anything" wishes for nothing, so nothing is extracted; "not a Horror" rules the genre out.
        assert out.preferences == [] and not horror & set(out.candidates)
        assert out.session.state.refused == (5,)
    assert lm.calls["[[ ## nodes ## ]]"] == 0


def test_nothing_left_to_ask_means_recommending(tmp_path):
    context = toy_context(tmp_path)
    lm = ScriptedLM(rules(always("ask")))
    out = turn(context, [user("A dark Comedy, please")], lm)  # both aspects settled
    assert out.action == "recommend" and len(out["items"]) == 3
    assert any(e["step"] == "no_question" for e in out.trace)
    assert lm.calls["[[ ## candidate_distribution ## ]]"] == 0


def test_an_lm_reply_to_a_question_must_still_name_the_aspect(tmp_path):
    context = toy_context(tmp_path)
    lm = ScriptedLM({**rules(always("ask"), question="Funny or tense?"),
                     "[[ ## content ## ]]": {"reply": "Tell me more about what you like!"}})
    out = turn(context, [user("I want a Comedy")], lm, AFIRSConfig(n_candidates=6, n_recommend=3, lm_reply=True))
    assert out.reply == "Funny or tense?"
    assert next(e for e in out.trace if e["step"] == "reply")["status"] == "fallback"


# --- replay of test user 364 (issue 22) ----------------------------------------------------------

TARGET = 1  # "The Hunchback": Animation, Children, Drama, Musical, Romance
GENRES = ["Animation", "Children", "Drama", "Musical", "Romance", "Comedy", "Action"]
DECADES = ["1990s", "1970s", "2000s"]
THEMES = ["fairy tale", "cartoon", "friendship"]
# Items that share some of the target's genres: its opener (Animation and Drama) matches 22 of them.
SHARED = [["Animation", "Drama"]] * 10 + [["Animation", "Children", "Drama"]] * 6 + \
         [["Animation", "Children", "Drama", "Musical"]] * 3 + [["Animation", "Children", "Drama", "Romance"]] * 2 + \
         [["Comedy"], ["Action"], ["Comedy", "Romance"], ["Action", "Drama"]] * 2
OPENER = "Please suggest movies that fit this: Animation and Drama."
REPLIES = [  # the user's side of the issue's session, in order
    "No, none of those is what I'm after. It should also be Children.",
    "Musical and Romance would be ideal.",
    "Something Drama and Romance, please.",
    "It should have this: Musical and Romance.",
]


def hunchback_world(folder) -> ProgramContext:
    attributes = [["Animation", "Children", "Drama", "Musical", "Romance", "1990s", "fairy tale"]]
    attributes += [genres + [DECADES[i % 3], THEMES[i % 3]] for i, genres in enumerate(SHARED)]
    n = len(attributes)
    items = pd.DataFrame({"idx": range(1, n + 1), "item_id": [str(i) for i in range(1, n + 1)],
                          "title": [f"Film {i}" for i in range(1, n + 1)], "description": "", "attributes": attributes})
    sequences = [[(u * 3 + k) % n + 1 for k in range(5)] for u in range(10)]
    train = pd.DataFrame({"user": [str(u) for u in range(10)], "sequence": sequences})
    split = pd.DataFrame({"user": train.user, "history": sequences, "target": [TARGET] * 10})
    dataset = PreparedDataset("ml-latest-small", items, train, split, split, {"data_key": "hunchback", "notes": []})
    nodes = [TreeNode(0, "movies", 0, None)]
    for category, aspect, options in (("Genre", "Main genres", GENRES), ("Era", "Decade", DECADES), ("Story", "Themes", THEMES)):
        top = len(nodes)
        nodes += [TreeNode(top, category, 1, 0), TreeNode(top + 1, aspect, 2, top)]
        for name in options:
            nodes.append(TreeNode(len(nodes), name, 3, top + 1, tuple(int(i) for i, a in zip(items.idx, attributes) if name in a)))
    tree = PreferenceTree(nodes, n_items=n, meta={})
    torch.manual_seed(0)
    model = SASRec(n, SASRecConfig(max_len=10, hidden_size=16, n_blocks=1)).eval()
    tool = RecsysTool(model, ItemIndex.from_mapping(tree.item_mapping(), n), ItemIndex.from_item_attributes(items),
                      np.arange(n + 1, dtype=np.float32))
    return ProgramContext(dataset, tree, tool, BagOfWordsEmbedder(), folder)


def replay_364(folder, question_memory=True, method="afirs"):
    """The issue's session: its user's messages in order, until the program recommends the film."""
    context = hunchback_world(folder)
    # The issue's LM: recommends on the opener, then always wants to ask "Drama or Comedy?".
    lm = ScriptedLM(rules(lambda conversation: "ask" if "Recommender:" in conversation else "recommend"))
    program = build_program(method, context, AFIRSConfig(n_candidates=10, n_recommend=3, question_memory=question_memory))
    dialogue, turns, replies = [user(OPENER)], [], iter(REPLIES)
    with dspy.context(lm=lm):
        for _ in range(5):
            out = program(dialogue=list(dialogue), history=[29, 30])
            turns.append(out)
            if out.action == "recommend" and TARGET in out["items"]:
                break
            dialogue += [assistant(out.reply), user(next(replies, "None"))]
    return context, dialogue, turns


@pytest.mark.parametrize("method", ["afirs", "decision-first"])
def test_user_364_is_never_asked_twice_and_gets_the_film_once_every_genre_is_known(tmp_path, method):
    context, dialogue, turns = replay_364(tmp_path, method=method)
    asked = [asked_aspects(context.tree, t.question) for t in turns if t.action == "ask"]
    assert asked and all(len(a) == 1 for a in asked) and len(set().union(*asked)) == len(asked)  # no repeat
    assert GENRE not in set().union(*asked)  # the user named genres from the first message on
    said = [" ".join(m["content"] for m in dialogue[: 2 * i + 1] if m["role"] == "user") for i in range(len(turns))]
    known = next(i for i, text in enumerate(said) if all(g in text for g in GENRES[:5]))
    assert turns[0].action == "recommend" and TARGET not in turns[0]["items"]
    # The scripted refinement keeps the tool's order, so the list it would recommend is the top 3 candidates.
    top = [t.candidates[:3] for t in turns]
    assert all(TARGET in items for items in top[known:]) and not any(TARGET in items for items in top[:known])
    assert turns[-1].action == "recommend" and TARGET in turns[-1]["items"]
    assert {f"Genre > Main genres > {g}" for g in GENRES[:5]} <= set(turns[-1].preferences)


def test_without_question_memory_the_issue_comes_back(tmp_path):
    _, _, turns = replay_364(tmp_path, question_memory=False)
    assert [t.question for t in turns[1:]] == ["Which genre do you prefer, Drama or Comedy?"] * 4
    assert not any(TARGET in t["items"] for t in turns)
