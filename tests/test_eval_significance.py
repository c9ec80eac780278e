"""McNemar's exact test, the paired sign-flip permutation test and Holm's correction on cases with known answers."""
from __future__ import annotations

import pytest
from scipy import stats

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
from afirs_dspy.evaluation.significance import (EXACT_PAIRS, adjust, compare, holm, mcnemar_exact,
                                                significant_improvements, sign_flip_test)
from afirs_dspy.evaluation.summary import build_summary


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
