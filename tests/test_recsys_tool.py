"""The recommender tool: two-stage filtering, relaxation fallback, exclusion, hard filter."""
import numpy as np
import pytest
import torch

from afirs_dspy.recsys.config import SASRecConfig
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.synthetic import synthetic_dataset
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.recsys.tool import RecsysTool, top_k
from recsys_threads import one_torch_thread  # noqa: F401 (autouse fixture)

N_ITEMS = 20
HISTORY = [2, 5, 13]
PREFERENCES = {
    "a": range(1, 13),            # 12 items: the least specific of a, b, c
    "b": range(2, 21, 2),         # 10 items: the even ones
    "c": [3, 4],
    "empty": [],
}


@pytest.fixture(scope="module")
def tool():
    torch.manual_seed(0)
    model = SASRec(N_ITEMS, SASRecConfig(max_len=10, hidden_size=16, n_heads=2))
    index = ItemIndex.from_mapping(PREFERENCES, N_ITEMS)
    popularity = np.arange(N_ITEMS + 1, dtype=np.float32)[::-1].copy()  # item 1 most popular
    return RecsysTool(model, index, index, popularity)


def cosine_order(tool, history, candidates):
    """Reference ranking: candidates by cosine with the user embedding, computed here from scratch."""
    user = tool.user_embedding(history)
    items = tool.item_embeddings()
    cos = {i: float(items[i] @ user / (np.linalg.norm(items[i]) * np.linalg.norm(user))) for i in candidates}
    return sorted(cos, key=lambda i: -cos[i])


def test_top_k_skips_excluded_and_orders_best_first():
    scores = np.array([-np.inf, 0.5, 0.9, -np.inf, 0.1, 0.7])
    assert top_k(scores, np.arange(6), 3).tolist() == [2, 5, 1]
    assert top_k(scores, np.array([3, 4, 1]), 5).tolist() == [1, 4]


def test_intersection_then_cosine_ranking(tool):
    result = tool.recommend(HISTORY, ["a", "b"], k=3)
    # a ∩ b = {2, 4, 6, 8, 10, 12}; 2 is in the history.
    assert list(result.items) == cosine_order(tool, HISTORY, [4, 6, 8, 10, 12])[:3]
    assert result.stages == ("preferences",) * 3
    assert result.relaxed == () and result.ignored == () and result.preferences == ("a", "b")
    assert result.scored_by == "cosine"
    assert np.allclose(result.scores, sorted(result.scores, reverse=True))


def test_relaxes_least_specific_preference_then_fills_with_sasrec(tool):
    result = tool.recommend(HISTORY, ["c", "a", "b"], k=6)
    # All three: {4}. Without a (largest set): c ∩ b = {4}, nothing new. Without a, b: c = {3, 4} -> 3.
    # Then plain SASRec fills the last 4 slots from the remaining unseen items.
    assert result.relaxed == ("a", "b", "c")
    assert result.stages == ("preferences", "relaxed-2", "sasrec", "sasrec", "sasrec", "sasrec")
    assert result.items[:2] == (4, 3)
    rest = [i for i in range(1, N_ITEMS + 1) if i not in (*HISTORY, 3, 4)]
    assert list(result.items[2:]) == cosine_order(tool, HISTORY, rest)[:4]
    assert result.stage_counts() == {"preferences": 1, "relaxed-2": 1, "sasrec": 4}
    assert "dropped 'a'" in result.note and "Plain SASRec" in result.note
    assert result.widened == ()


def test_with_parents_the_rest_are_ranked_by_how_many_preferences_they_hold(tool):
    # c ∩ b = {4}. Then by grade: 6, 8, 10, 12 hold b and c's parent a (1.5); 14…20 hold b only (1);
    # 3 holds c but not b (1), 1, 7, 9, 11 hold only the parent (0.5). Within a grade, by cosine.
    result = tool.recommend(HISTORY, ["c", "b"], k=10, parents={"c": "a", "a": "not-a-key"})
    assert result.items[0] == 4 and set(result.items[1:5]) == {6, 8, 10, 12}
    assert set(result.items[5:10]) == {3, 14, 16, 18, 20}
    assert list(result.items[5:10]) == cosine_order(tool, HISTORY, [3, 14, 16, 18, 20])
    assert result.stages == ("preferences",) + ("partial",) * 9
    assert result.widened == (("c", "a"),) and result.relaxed == ()
    assert "'c' → 'a'" in result.note and result.steps[0] == "1 items hold every preference ('c', 'b')"
    # Without parents the same request only drops: b (the larger) first, then c.
    dropped = tool.recommend(HISTORY, ["c", "b"], k=6)
    assert dropped.widened == () and dropped.relaxed == ("b", "c")
    assert dropped.stages[:2] == ("preferences", "relaxed-1") and dropped.items[:2] == (4, 3)


def test_an_empty_intersection_keeps_every_preference_in_the_grade(tool):
    # c ∩ empty = ∅: dropping would lose c; grading still puts c's items first, then SASRec fills.
    result = tool.recommend(HISTORY, ["c", "empty"], k=5, parents={})
    assert result.items[:2] == tuple(cosine_order(tool, HISTORY, [3, 4]))
    assert result.stage_counts() == {"partial": 2, "sasrec": 3} and result.widened == ()


def test_one_relaxation_suffices(tool):
    result = tool.recommend(HISTORY, ["a", "b"], k=8)
    assert result.relaxed == ("a",)
    assert result.stage_counts() == {"preferences": 5, "relaxed-1": 3}
    assert set(result.items[5:]) <= {14, 16, 18, 20}


def test_unknown_preferences_are_ignored_and_reported(tool):
    result = tool.recommend(HISTORY, ["a", "nope", "B", "b"], k=3)
    assert result.ignored == ("nope",)
    assert result.preferences == ("a", "B")  # "b" repeats "B" after normalisation
    assert result.items == tool.recommend(HISTORY, ["a", "b"], k=3).items
    assert "'nope'" in result.note


def test_known_but_empty_preference_is_relaxed_last(tool):
    result = tool.recommend(HISTORY, ["empty", "b"], k=2)
    # The empty set is the most specific, so "b" goes first, then "empty".
    assert result.relaxed == ("b", "empty")
    assert result.stages == ("sasrec", "sasrec")


def test_history_is_never_recommended(tool):
    history = list(range(1, 16))
    for result in (tool.recommend(history, k=50), tool.recommend(history, ["a"], k=50),
                   tool.recommend_with_attribute_filter(history, [], k=50)):
        assert set(result.items) == {16, 17, 18, 19, 20}
        assert "fewer than k=50" in result.note


def test_plain_sasrec_is_cosine_top_k(tool):
    result = tool.recommend(HISTORY, None, k=5)
    unseen = [i for i in range(1, N_ITEMS + 1) if i not in HISTORY]
    assert list(result.items) == cosine_order(tool, HISTORY, unseen)[:5]
    assert result.stages == ("sasrec",) * 5


def test_empty_history_ranks_by_popularity(tool):
    result = tool.recommend([], ["b"], k=3)
    assert result.items == (2, 4, 6) and result.scored_by == "popularity"
    assert "popularity" in result.note
    assert np.all(tool.user_embedding([]) == 0)


def test_attribute_hard_filter_has_no_fallback(tool):
    result = tool.recommend_with_attribute_filter(HISTORY, ["a", "b"], k=10, exclude=["c", "zzz"])
    # a ∩ b minus history minus c = {6, 8, 10, 12}.
    assert sorted(result.items) == [6, 8, 10, 12]
    assert result.stages == ("attribute-filter",) * 4
    assert result.ignored == ("zzz",) and result.relaxed == ()
    assert "nothing was relaxed" in result.note


def test_tool_calls_leave_the_thread_count_as_they_found_it(tool):
    with torch_threads(2):
        tool.recommend(HISTORY, ["a"], k=3)
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1  # the module fixture's setting


def test_bad_arguments(tool):
    with pytest.raises(ValueError, match="1..20"):
        tool.recommend([0, 3])
    with pytest.raises(ValueError, match="k must be"):
        tool.recommend([3], k=0)


def test_from_dataset_uses_catalog_attributes():
    dataset = synthetic_dataset(n_users=10, n_items=12)
    tool = RecsysTool.from_dataset(SASRec(12, SASRecConfig(max_len=10, hidden_size=8)), dataset)
    result = tool.recommend_with_attribute_filter([1], ["EVEN", "low"], k=10)
    assert sorted(result.items) == [2, 4, 6]


@pytest.mark.parametrize("parents", [None, {"c": "a"}])
def test_excluded_items_never_come_back_and_avoided_ones_come_last(tool, parents):
    plain = tool.recommend(HISTORY, ["a", "b"], k=6, parents=parents)
    excluded = list(plain.items[:3])
    refilled = tool.recommend(HISTORY, ["a", "b"], k=6, parents=parents, exclude_items=excluded)
    assert not set(excluded) & set(refilled.items) and len(refilled.items) == 6  # the next best refill the list
    assert list(refilled.items[:3]) == list(plain.items[3:6])
    avoided = [plain.items[0]]
    demoted = tool.recommend(HISTORY, ["a", "b"], k=6, parents=parents, avoid_items=avoided)
    # a ∩ b holds 5 unseen items: the avoided one comes after the other four that hold both
    assert demoted.items[:4] == plain.items[1:5] and demoted.items[4] == avoided[0]
    assert demoted.scores[4] == plain.scores[0]  # its reported score is its own, not the ranking's offset
    filtered = tool.recommend_with_attribute_filter(HISTORY, ["b"], k=20, exclude_items=excluded)
    assert not set(excluded) & set(filtered.items)
