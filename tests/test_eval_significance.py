"""McNemar's exact test and the paired bootstrap on small cases with known answers."""
from __future__ import annotations

import pytest

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord
from afirs_dspy.evaluation.significance import compare, mcnemar_exact, paired_bootstrap, significant_improvements


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(8, 0) == pytest.approx(2 / 256)
    assert mcnemar_exact(3, 3) == 1.0


def test_paired_bootstrap_is_seeded_and_centred():
    a, b = [1, 1, 1, 0, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0, 0, 1]
    first, again = paired_bootstrap(a, b, 2000, seed=3), paired_bootstrap(a, b, 2000, seed=3)
    assert first == again and first["delta"] == pytest.approx(3 / 8)
    assert first["ci95"][0] <= 3 / 8 <= first["ci95"][1]
    assert paired_bootstrap([1, 0] * 5, [1, 0] * 5)["p"] == 1.0  # no difference at all
    constant = paired_bootstrap([1] * 12, [0] * 12, 999)
    assert constant["p"] == pytest.approx(1 / 1000) and constant["ci95"] == [1.0, 1.0]
    few = paired_bootstrap([1] * 9, [0] * 9, 999)  # too few pairs for a bootstrap p-value
    assert few["p"] is None and few["delta"] == 1.0
    assert paired_bootstrap([], [])["delta"] is None


def _session(user, success_turn, method):
    turns = [TurnRecord(turn=k, action="recommend", items=[1], preselected=[1], candidates=[], preferences=[],
                        question="", reply="", accepted=k == success_turn) for k in range(1, (success_turn or 5) + 1)]
    return SessionRecord(method=method, user=user, target=1, history_length=0, simulator="s", opener="", turns=turns)


def test_compare_pairs_sessions_by_user():
    ours = [_session("a", 1, "x"), _session("b", 2, "x"), _session("c", None, "x"), _session("only-ours", 1, "x")]
    base = [_session("a", 3, "y"), _session("b", None, "y"), _session("c", None, "y")]
    result = compare(ours, base, 5, n_boot=500)
    assert result["pairs"] == 3
    assert result["mcnemar"]["SR@1"] == {"b": 1, "c": 0, "p": 1.0}
    assert result["mcnemar"]["SR@5"]["b"] == 1 and result["mcnemar"]["SR@3"]["b"] == 1
    assert result["AT"]["delta"] == pytest.approx(((1 - 3) + (2 - 6) + 0) / 3)
    assert significant_improvements(result) == set()
