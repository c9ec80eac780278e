"""Building the preference tree and extracting session preferences, with a scripted LM."""
from __future__ import annotations

import json

import dspy
import numpy as np
import pytest

from afirs_dspy.context import MissingArtifact, load_tree
from afirs_dspy.preference_tree import PreferenceTree
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.programs.tree_builder import PreferenceTreeBuilder, TreeBuildConfig
from scripted import BagOfWordsEmbedder, ScriptedLM, field
from toy_world import GENRES, toy_dataset, toy_items, toy_tree


def cluster(prompt):
    """Genres under Genre > Main, moods under Mood > Feel, except 'tense', left out on purpose."""
    attributes = json.loads(field(prompt, "attributes"))
    return {"tree": json.dumps([
        {"category": "Genre", "subcategories": [{"subcategory": "Main", "attributes": [a for a in attributes if a in GENRES]}]},
        {"category": "mood ", "subcategories": [{"subcategory": "Feel", "attributes": [a for a in attributes if a in ("funny", "dark", "Invented")]}]},
    ])}


def halves(prompt):
    n = len(json.loads(field(prompt, "items")))
    return {"groups": json.dumps([{"name": "Early", "items": list(range(1, n // 2 + 1))},
                                  {"name": "Late", "items": list(range(n // 2 + 1, n + 1))}])}


def build(rules, **config):
    items = toy_items()
    lm = ScriptedLM(rules)
    builder = PreferenceTreeBuilder(BagOfWordsEmbedder(), TreeBuildConfig(**config))
    with dspy.context(lm=lm):
        built = builder(items=items, domain="movies", popularity=np.arange(len(items) + 1))
    return built, lm


def test_builder_covers_every_attribute_and_item_with_bounded_calls():
    built, lm = build({"`[[ ## tree ## ]]`": cluster, "`[[ ## groups ## ]]`": halves},
                      attributes_per_call=4, min_items_to_group=8, max_group_calls=3, items_per_group_call=4)
    tree, report = built.tree, built.report
    assert report["attributes_in_tree"] == report["attributes"] == 7 and report["missing_attributes"] == []
    assert report["items_reachable"] == report["items"] == 24
    # 7 attributes in chunks of 4 → 2 clustering calls; 3 attributes have >= 8 items → 3 grouping calls.
    assert lm.calls["`[[ ## tree ## ]]`"] == 2 and lm.calls["`[[ ## groups ## ]]`"] == 3
    assert report["lm_steps"] == 5
    by_name = {n.name: n for n in tree.nodes}
    # The LM left 'tense' out: it joins the most similar subcategory instead.
    assert by_name["tense"].placed_by == "embedding" and tree.nodes[by_name["tense"].parent].level == 2
    assert by_name["Comedy"].placed_by == "llm" and {n.name for n in tree.nodes if n.level == 1} == {"Genre", "mood"}
    groups = [n for n in tree.nodes if n.level == 4]
    assert len(groups) == 6 and {n.name for n in groups} == {"Early", "Late"}
    # Each grouped attribute's items are split between its groups: 4 shown to the LM, the rest by similarity.
    assert report["group_items_placed_by"] == {"llm": 12, "embedding": 12}
    for attribute in {n.parent for n in groups}:
        parts = [set(n.items) for n in groups if n.parent == attribute]
        assert set.union(*parts) == set(tree.nodes[attribute].items) and not set.intersection(*parts)


def test_an_out_of_range_item_number_is_retried_then_the_attribute_stays_a_leaf():
    def bad_groups(prompt):
        return {"groups": json.dumps([{"name": "A", "items": [1]}, {"name": "B", "items": [99]}])}

    built, lm = build({"`[[ ## tree ## ]]`": cluster, "`[[ ## groups ## ]]`": bad_groups},
                      min_items_to_group=8, max_group_calls=1, items_per_group_call=4)
    assert lm.calls["`[[ ## groups ## ]]`"] == 2
    assert not [n for n in built.tree.nodes if n.level == 4]
    assert [e["status"] for e in built.trace if e["step"] == "group_items"] == ["fallback"]


def test_builder_falls_back_when_the_lm_never_places_anything():
    bad = {"`[[ ## tree ## ]]`": {"tree": json.dumps([{"category": "X", "subcategories": [{"subcategory": "Y", "attributes": ["nope"]}]}])}}
    built, lm = build(bad, max_group_calls=0)
    assert lm.calls["`[[ ## tree ## ]]`"] == 2  # the first call and its retry
    assert built.report["lm_fallbacks"] == 1
    assert {n.placed_by for n in built.tree.nodes[1:]} == {"fallback"}
    assert built.report["attributes_in_tree"] == 7


def test_tree_save_load_round_trip(tmp_path):
    tree = toy_tree(toy_items())
    tree.save(tmp_path / "tree.json")
    loaded = PreferenceTree.load(tmp_path / "tree.json")
    assert loaded.nodes == tree.nodes and loaded.meta == tree.meta
    assert loaded.node_items(1).tolist() == list(range(1, 25))  # Genre covers every item
    assert loaded.path(12) == "Genre > Main genres > Comedy > Romantic comedy"


def test_extractor_shows_only_the_most_similar_children_and_descends():
    tree = toy_tree(toy_items())
    embedder = BagOfWordsEmbedder()
    shown = []

    def select(prompt):
        nodes = json.loads(field(prompt, "nodes"))
        shown.append(nodes)
        return {"selected": "[1]"}

    extractor = SessionPreferenceExtractor(tree, embedder, embedder.encode(tree.node_texts()), top_children=2)
    with dspy.context(lm=ScriptedLM({"[[ ## nodes ## ]]": select})):
        out = extractor(user_responses="a horror film please")
    assert shown[0] == ["1. Genre", "2. Mood"]
    # "Main genres" is Genre's only child: no LM call; then two of the four genres are shown.
    assert len(shown) == 2 and shown[1][0] == "1. Genre > Main genres > Horror" and len(shown[1]) == 2
    assert [len(level) for level in out.levels] == [1, 1, 1]
    assert out.preferences == [5]  # Horror: no item groups below it, so the descent stops there


# An unparseable answer costs two calls per attempt: DSPy's ChatAdapter retries it as JSON.
@pytest.mark.parametrize("answer,calls", [("[7]", 2), ("garbage", 4)])
def test_extractor_rejects_numbers_outside_the_shown_nodes_or_garbage(answer, calls):
    tree = toy_tree(toy_items())
    embedder = BagOfWordsEmbedder()
    extractor = SessionPreferenceExtractor(tree, embedder, embedder.encode(tree.node_texts()))
    lm = ScriptedLM({"[[ ## nodes ## ]]": {"selected": answer}})
    with dspy.context(lm=lm):
        out = extractor(user_responses="anything")
    assert out.preferences == [] and out.trace[0]["status"] == "fallback" and lm.calls["[[ ## nodes ## ]]"] == calls


def test_a_saved_tree_is_only_loaded_for_the_data_it_was_built_on(tmp_path):
    dataset = toy_dataset()
    toy_tree(dataset.items).save(tmp_path / "ml-latest-small" / "tree" / "tree.json")
    assert load_tree(dataset, tmp_path).n_items == dataset.n_items
    other = toy_dataset()
    other.report["data_key"] = "changed"
    with pytest.raises(MissingArtifact, match="built on other data .*build-tree --dataset ml-latest-small --force"):
        load_tree(other, tmp_path)
    legacy = toy_tree(dataset.items)
    legacy.meta = {"dataset": {"cache_key": "files-then"}}  # saved before data keys existed
    legacy.save(tmp_path / "ml-latest-small" / "tree" / "tree.json")
    other.report["cache_key"] = "files-then"
    assert load_tree(other, tmp_path).n_items == dataset.n_items
    other.report["cache_key"] = "files-now"
    with pytest.raises(MissingArtifact, match="built on other data"):
        load_tree(other, tmp_path)
