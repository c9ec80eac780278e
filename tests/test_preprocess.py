"""The paper's preprocessing on tiny hand-made tables."""
from __future__ import annotations

import pandas as pd
import pytest

from afirs_dspy.data import DataError, PreprocessConfig, RawDataset
from afirs_dspy.data.preprocess import k_core, prepare
from afirs_dspy.data.sources.common import catalog_frame, interactions_frame, user_attributes_frame


def _catalog(items):
    return catalog_frame([{"item": i, "title": f"t{i}", "description": "", "attributes": [f"a{i}"]} for i in items])


def test_k_core_is_iterative():
    # Item c has 2 users; dropping it leaves user 3 with one interaction, which then goes too.
    frame = pd.DataFrame({"user": ["1", "1", "2", "2", "3", "3"], "item": ["a", "b", "a", "b", "a", "c"]})
    kept = k_core(frame, 2)
    assert sorted(zip(kept.user, kept["item"])) == [("1", "a"), ("1", "b"), ("2", "a"), ("2", "b")]


def test_rating_filter_leave_one_out_and_item_numbering():
    raw = RawDataset(
        catalog=_catalog(["10", "2", "3", "4"]),
        interactions=interactions_frame(
            ["u", "u", "u", "u", "u"], ["3", "10", "2", "4", "2"], [5, 1, 2, 4, 3], [5, 5, 5, 1, 4]
        ),
        has_ratings=True,
        has_timestamps=True,
    )
    data = prepare("toy", raw, PreprocessConfig(core=1))
    # Natural id order: 2, 3, 10 (item 4 is rated 1 and dropped; the second "2" is a repeat).
    assert data.items.item_id.tolist() == ["2", "3", "10"]
    # In time order: 10, 2, 3.
    assert data.train.sequence.tolist() == [[3]]
    assert (data.valid.history[0], data.valid.target[0]) == ([3], 1)
    assert (data.test.history[0], data.test.target[0]) == ([3, 1], 2)
    assert [s["stage"] for s in data.report["stages"]] == [
        "raw", "rating >= 3", "first interaction per user and item", "1-core (users and items)",
    ]


def test_users_with_fewer_than_three_interactions_are_dropped_when_core_allows_them():
    raw = RawDataset(
        catalog=_catalog(["1", "2", "3"]),
        interactions=interactions_frame(["a", "a", "a", "b", "b"], ["1", "2", "3", "1", "2"], range(5)),
    )
    data = prepare("toy", raw, PreprocessConfig(core=1))
    assert data.test.user.tolist() == ["a"]
    assert any("no ratings" in note for note in data.report["notes"])


def test_empty_result_is_a_data_error():
    raw = RawDataset(catalog=_catalog(["1"]), interactions=interactions_frame(["a"], ["1"], [0]))
    with pytest.raises(DataError, match="no interactions left after preprocessing"):
        prepare("toy", raw, PreprocessConfig(core=10))


def test_windows_keep_their_split_and_drop_unknown_items():
    windows = pd.DataFrame(
        {
            "split": ["train", "valid", "test", "test"],
            "history": [["1", "2"], ["2", "9"], ["1", "2", "3"], []],
            "target": ["3", "1", "4", "9"],
        }
    )
    data = prepare("toy", RawDataset(catalog=_catalog(["1", "2", "3", "4"]), windows=windows), PreprocessConfig())
    assert data.valid.history.tolist() == [[2]]  # unknown item 9 removed from the history
    assert data.test.target.tolist() == [4]  # window with unknown target 9 dropped
    assert data.train.sequence.tolist() == [[1, 2, 3], [1, 2, 3]]
    assert data.report["sessions"] == {"valid": 1, "test": 1}


def test_tags_given_in_a_held_out_interaction_are_not_item_attributes():
    # u's last two items (3 = test, 2 = valid) are held out: u's own tags on them would leak the
    # held-out interaction; the same tag from another user, and u's tag on a training item, stay.
    raw = RawDataset(
        catalog=_catalog(["1", "2", "3"]),
        interactions=interactions_frame(["u", "u", "u", "v", "v", "v"], ["1", "2", "3", "2", "3", "1"], range(6)),
        user_attributes=user_attributes_frame(
            [("u", "3", "alter ego"), ("u", "2", "musical"), ("v", "2", "musical"), ("u", "1", "classic")]
        ),
    )
    data = prepare("toy", raw, PreprocessConfig(core=1))
    attributes = dict(zip(data.items.item_id, data.items.attributes))
    assert attributes == {"1": ["a1", "classic"], "2": ["a2", "musical"], "3": ["a3"]}
    assert any("except 2 given by a user to their own valid or test target" in n for n in data.report["notes"])
