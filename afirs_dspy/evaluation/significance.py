"""Paired tests of one method against a baseline on the same simulated users (numpy and math only).

- McNemar's exact test on success by turn t (t = 1, 3, 5): of the discordant pairs, b where only the
  method succeeded and c where only the baseline did, two-sided p = min(1, 2 · P(X ≤ min(b, c))) with
  X ~ Binomial(b + c, 1/2).
- Paired bootstrap of ΔSR@5 and ΔAT (method − baseline): sessions resampled with replacement
  (seeded), a percentile 95% interval, and p = (1 + #{|Δ* − Δ| ≥ |Δ|}) / (B + 1), the share of
  resampled differences, shifted to a null of no difference, at least as extreme as the observed one.
  Below MIN_BOOTSTRAP_PAIRS pairs the resamples cannot stand for the sampling distribution (one pair
  always resamples to itself, giving p ≈ 1/B), so no p-value is given and nothing is marked.

The table marks a method's SR@t with * when it beats the baseline with McNemar p < ALPHA, and its AT
when it is lower with bootstrap p < ALPHA, as the paper marks p < 0.01.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from afirs_dspy.evaluation.metrics import ok, succeeded_by, turns_taken
from afirs_dspy.evaluation.records import SessionRecord

ALPHA = 0.01
MIN_BOOTSTRAP_PAIRS = 10
SR_TURNS = (1, 3, 5)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 10_000, seed: int = 0) -> dict:
    """Δ = mean(a − b) with its percentile 95% interval and bootstrap p-value (see the module doc)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return {"delta": None, "ci95": None, "p": None}
    observed = float(diff.mean())
    samples = np.random.default_rng(seed).integers(0, diff.size, size=(n_boot, diff.size))
    deltas = diff[samples].mean(axis=1)
    extreme = np.abs(deltas - observed) >= abs(observed) - 1e-12
    low, high = np.percentile(deltas, [2.5, 97.5])
    p = float((1 + extreme.sum()) / (n_boot + 1)) if diff.size >= MIN_BOOTSTRAP_PAIRS else None
    return {"delta": observed, "ci95": [float(low), float(high)], "p": p}


def paired_sessions(method: Sequence[SessionRecord], baseline: Sequence[SessionRecord]) -> list[tuple[SessionRecord, SessionRecord]]:
    """(method, baseline) records of the users both finished without error, in the method's order."""
    theirs = {r.user: r for r in ok(baseline)}
    return [(r, theirs[r.user]) for r in ok(method) if r.user in theirs]


def compare(method: Sequence[SessionRecord], baseline: Sequence[SessionRecord], max_turns: int,
            n_boot: int = 10_000, seed: int = 0) -> dict:
    pairs = paired_sessions(method, baseline)
    result: dict = {"pairs": len(pairs), "mcnemar": {}}
    for t in SR_TURNS:
        b = sum(succeeded_by(m, t) and not succeeded_by(o, t) for m, o in pairs)
        c = sum(succeeded_by(o, t) and not succeeded_by(m, t) for m, o in pairs)
        result["mcnemar"][f"SR@{t}"] = {"b": b, "c": c, "p": mcnemar_exact(b, c)}
    result["SR@5"] = paired_bootstrap([succeeded_by(m, 5) for m, _ in pairs], [succeeded_by(o, 5) for _, o in pairs],
                                      n_boot, seed)
    result["AT"] = paired_bootstrap([turns_taken(m, max_turns) for m, _ in pairs],
                                    [turns_taken(o, max_turns) for _, o in pairs], n_boot, seed)
    return result


def significant_improvements(comparison: dict, alpha: float = ALPHA) -> set[str]:
    """The columns where the method is significantly better than the baseline."""
    better = {name for name, test in comparison["mcnemar"].items() if test["b"] > test["c"] and test["p"] < alpha}
    at = comparison["AT"]
    if at["delta"] is not None and at["delta"] < 0 and at["p"] is not None and at["p"] < alpha:
        better.add("AT")
    return better
