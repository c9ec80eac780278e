"""McNemar's exact test, the paired sign-flip permutation test and Holm's correction on cases with known answers."""
from __future__ import annotations

import pytest
from scipy import stats

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
from afirs_dspy.evaluation.significance import (EXACT_PAIRS, adjust, bootstrap_interval, compare, holm,
                                                mcnemar_exact, sign_flip_test, significant_improvements,
                                                users_needed_mcnemar, users_needed_sign_flip)
from afirs_dspy.evaluation.summary import best_baseline, build_summary


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(8, 0) == pytest.approx(2 / 256)
    assert mcnemar_exact(3, 3) == 1.0


def test_sign_flip_on_five_wins_and_five_ties_is_not_significant():
    # 5 pairs "turn 1 vs failed" (1 vs 6) and 5 ties: only 2 of the 2^5 sign patterns of the 5 non-zero
    # differences are as extreme, p = 2/32 (the paired bootstrap said 0.002).
    result = sign_flip_test([1] * 5 + [3] * 5, [6] * 5 + [3] * 5)
    assert result["delta"] == pytest.approx(-2.5) and result["p"] == pytest.approx(2 / 32)


def test_sign_flip_edge_cases_and_monte_carlo_beyond_the_exact_size():
    assert sign_flip_test([], []) == {"delta": None, "p": None}
    assert sign_flip_test([2, 3, 6], [2, 3, 6]) == {"delta": 0.0, "p": 1.0}
    assert sign_flip_test([1] * 8, [6] * 8)["p"] == pytest.approx(2 / 256)
    # Equal magnitudes: the sign-flip test is the sign test; 15 of 20 differences negative.
    n = EXACT_PAIRS + 4
    a, b = [0] * 15 + [1] * 5, [1] * 15 + [0] * 5
    expected = stats.binomtest(5, n, 0.5).pvalue
    first, again = sign_flip_test(a, b, seed=3), sign_flip_test(a, b, seed=3)
    assert first == again and first["p"] == pytest.approx(expected, abs=0.005)


def test_holm_adjusts_step_down_and_skips_missing_tests():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert (adjusted["a"], adjusted["b"], adjusted["c"]) == pytest.approx((0.03, 0.06, 0.06)) and adjusted["d"] is None
    assert holm({"only": 0.004}) == {"only": 0.004}


def _session(user, success_turn, method, status="ok"):
    turns = [TurnRecord(turn=k, action="recommend", items=[1], preselected=[1], candidates=None, preferences=[],
                        question="", reply="", accepted=k == success_turn) for k in range(1, (success_turn or 5) + 1)]
    return SessionRecord(method=method, user=user, target=1, history_length=0, simulator="s", opener="",
                         turns=turns if status == "ok" else [], status=status)


def test_compare_pairs_sessions_by_user_and_counts_errors_as_failures():
    ours = [_session("a", 1, "x"), _session("b", 2, "x"), _session("c", None, "x"), _session("e", None, "x", "error"),
            _session("only-ours", 1, "x")]
    base = [_session("a", 3, "y"), _session("b", None, "y"), _session("c", None, "y"), _session("e", 1, "y")]
    result = compare(ours, base, 5)
    adjust({"x": result})
    assert result["pairs"] == 4
    assert result["mcnemar"]["SR@1"] == {"b": 1, "c": 1, "delta": 0.0, "p": 1.0, "p_holm": 1.0}
    assert result["mcnemar"]["SR@5"]["b"] == 1 and result["mcnemar"]["SR@5"]["c"] == 1
    assert result["AT"]["delta"] == pytest.approx(((1 - 3) + (2 - 6) + 0 + (6 - 1)) / 4)
    assert significant_improvements(result) == set()


def test_several_methods_against_one_baseline_are_holm_corrected():
    base = [_session(str(u), None, "base") for u in range(8)]
    good = {m: [_session(str(u), 1, m) for u in range(8)] for m in ("one", "two")}
    alone = build_summary({"one": good["one"], "base": base}, ["one", "base"], 5, 50, baseline="base")
    assert alone["rows"][0]["significant"] == ["AT", "SR@1", "SR@3", "SR@5"]  # p = 2/256 < 0.01
    both = build_summary({**good, "base": base}, ["one", "two", "base"], 5, 50, baseline="base")
    assert [row["significant"] for row in both["rows"]] == [[], [], []]  # Holm: 2 · 2/256 > 0.01
    assert both["comparisons"]["one"]["mcnemar"]["SR@5"]["p_holm"] == pytest.approx(4 / 256)
    assert both["tests"]["correction"] == "Holm" and "Holm-adjusted over the 2 methods compared" in both["notes"][-1]


def test_users_needed_scale_the_observed_difference_up_to_p_below_005_after_holm():
    # 5 of 10 users discordant, all for the method: 6 discordant pairs (p = 2/64) need 12 users; with 10
    # comparisons Holm can multiply p by 10: 9 discordant pairs (10 · 2/512 < 0.05), 18 users.
    assert users_needed_mcnemar(5, 0, 10) == 12 and users_needed_mcnemar(5, 0, 10, comparisons=10) == 18
    assert users_needed_mcnemar(0, 5, 10) == 12  # a loss as large needs as many
    assert users_needed_mcnemar(3, 3, 10) is None and users_needed_mcnemar(0, 0, 10) is None
    assert 9_000 < users_needed_mcnemar(51, 49, 100) < 10_500  # a 51:49 split: z² / 0.02² ≈ 9,604 discordant pairs
    assert users_needed_mcnemar(5001, 4999, 10_000) is None  # more than a million users
    # A difference always -1 turn: z(0.025)² ≈ 3.84 → 4 users; mean(d²) twice Δ² doubles it.
    assert users_needed_sign_flip([-1, -1]) == 4 and users_needed_sign_flip([0, -2]) == 8
    assert users_needed_sign_flip([1, -1]) is None


def test_the_table_states_intervals_and_users_needed_for_every_comparison():
    base = [_session(str(u), None, "base") for u in range(10)]
    ours = [_session(str(u), 1 if u < 5 else None, "ours") for u in range(10)]
    summary = build_summary({"ours": ours, "base": base}, ["ours", "base"], 5, 50, baseline="base")
    effect = summary["comparisons"]["ours"]["effect"]
    assert effect["SR@5"]["users_needed"] == 12 and effect["SR@5"]["ci"][0] > 0 and effect["SR@5"]["ci"][1] <= 1
    assert effect["AT"]["users_needed"] is not None and effect["AT"]["ci"][1] < 0
    assert any("users a difference of its size would need to reach p < 0.05" in note for note in summary["notes"])
    assert bootstrap_interval([], seed=0) is None and bootstrap_interval([1, 1, 1]) == [1.0, 1.0]


def test_the_default_baseline_is_the_best_other_method_by_sr5_then_at_then_order():
    sessions = lambda method, turns: [_session(str(u), t, method) for u, t in enumerate(turns)]  # noqa: E731
    by_method = {"a": sessions("a", [1, 1, None]), "b": sessions("b", [1, 1, None]), "c": sessions("c", [3, 3, None]),
                 "d": sessions("d", [1, None, None])}
    assert best_baseline(by_method, ["b", "c", "d"], 5) == "b"  # SR@5 2/3 both; b is faster
    assert best_baseline(by_method, ["c", "d"], 5) == "c"
    assert best_baseline({**by_method, "e": sessions("e", [1, 1, None])}, ["e", "b"], 5) == "e"  # a tie: listed first
    assert best_baseline(by_method, [], 5) is None and best_baseline(by_method, ["missing"], 5) is None
