"""The inverted index: normalisation, intersection, union."""
import numpy as np
import pandas as pd
import pytest

from afirs_dspy.recsys.item_index import ItemIndex, normalize_key


def test_keys_are_normalised_and_merged():
    index = ItemIndex.from_mapping({"Free to Play": [3, 1], " free  TO play": [2, 3], "RPG": [5]}, 6)
    assert index.keys() == ["free to play", "rpg"]
    assert index.items_for("FREE TO PLAY").tolist() == [1, 2, 3]
    assert "rpg" in index and "action" not in index and len(index) == 2
    assert normalize_key("  Sci-Fi \n") == "sci-fi"
    with pytest.raises(KeyError):
        index.items_for("action")


def test_intersection_union_and_empty_keys():
    index = ItemIndex.from_mapping({"a": [1, 2, 3, 5, 8], "b": [2, 3, 4, 8], "c": [8, 3], "none": []}, 9)
    assert index.intersection(["a", "b", "c"]).tolist() == [3, 8]
    assert index.intersection(["a", "none"]).tolist() == []
    assert index.intersection([]).tolist() == list(range(1, 10))
    assert index.union(["b", "c"]).tolist() == [2, 3, 4, 8]
    assert index.union([]).tolist() == []
    assert index.size("none") == 0 and index.size("a") == 5


def test_from_item_attributes():
    items = pd.DataFrame({"idx": [1, 2, 3], "attributes": [["Drama", "War"], [], ["drama"]]})
    index = ItemIndex.from_item_attributes(items)
    assert index.items_for("drama").tolist() == [1, 3] and index.n_items == 3


def test_rejects_out_of_range_items():
    with pytest.raises(ValueError, match="1..3"):
        ItemIndex.from_mapping({"a": [0, 1]}, 3)


def test_intersection_matches_python_sets_on_random_data():
    rng = np.random.default_rng(0)
    sets = {f"k{j}": rng.choice(500, rng.integers(1, 400), replace=False) + 1 for j in range(6)}
    index = ItemIndex.from_mapping(sets, 500)
    keys = ["k0", "k2", "k5"]
    expected = sorted(set(sets["k0"]) & set(sets["k2"]) & set(sets["k5"]))
    assert index.intersection(keys).tolist() == expected
