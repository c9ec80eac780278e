"""Paired tests of methods against one baseline on the same simulated users (scipy.stats).

- Success by turn t (t = 1, 3, 5): McNemar's exact test. Of the discordant pairs, b where only the method
  succeeded and c where only the baseline did, two-sided p of b under Binomial(b + c, 1/2)
  (``scipy.stats.binomtest``).
- Turns taken (AT): the paired sign-flip permutation test of the mean difference (method − baseline),
  ``scipy.stats.permutation_test`` with ``permutation_type="samples"``: under the null each pair's
  difference is as likely negated, so p is the share of the 2^n sign assignments whose mean is at least
  as extreme; exact up to EXACT_PAIRS pairs, Monte-Carlo (seeded, MC_RESAMPLES) above. Ties count as
  zero differences, so 5 "turn 1 vs failed" pairs and 5 ties give p = 2/32, as they should.
- Several methods against one baseline form one family per column: the p-values are Holm-adjusted
  across the methods (``holm``) before anything is marked.

The table marks a method's SR@t with * when it beats the baseline with adjusted McNemar p < ALPHA, and
its AT when it is lower with adjusted sign-flip p < ALPHA, as the paper marks p < 0.01.

Beside each test, for SR@5 and AT (``effect``): a 95% paired bootstrap interval of the difference
(BOOTSTRAP_RESAMPLES resamples of the users, seeded) and the users a difference of the observed size would
need to reach p < NEEDED_ALPHA after Holm over the table's comparisons (Holm's adjusted p is at most the
number of comparisons m times the raw p, so m·p < NEEDED_ALPHA suffices):

- SR@5: the observed discordance rate (b + c)/n and split b/(b + c) scaled up: the fewest discordant pairs D
  whose exact McNemar p of round(D·b/(b + c)) of D, times m, is below NEEDED_ALPHA, divided by the rate.
- AT: the normal approximation of the sign-flip test (its statistic's variance is mean(d²)/n for the paired
  differences d): n = z² · mean(d²) / Δ² with z the two-sided normal quantile at NEEDED_ALPHA / m.

None where there is no difference (b = c, Δ = 0) or it would need more than NEEDED_CAP users.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from afirs_dspy.evaluation.metrics import succeeded_by, turns_taken
from afirs_dspy.evaluation.records import SessionRecord

ALPHA = 0.01
SR_TURNS = (1, 3, 5)
EXACT_PAIRS = 16
MC_RESAMPLES = 100_000
BOOTSTRAP_RESAMPLES = 10_000
NEEDED_ALPHA = 0.05
NEEDED_CAP = 1_000_000
SR_TEST = "exact McNemar"
AT_TEST = "paired sign-flip permutation test"
CORRECTION = "Holm"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs."""
    return 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)


def sign_flip_test(a: Sequence[float], b: Sequence[float], seed: int = 0) -> dict:
    """Δ = mean(a − b) and the two-sided sign-flip permutation p-value (see the module doc)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size == 0:
        return {"delta": None, "p": None}
    if not diff.any():
        return {"delta": 0.0, "p": 1.0}
    # One paired sample: permuting it with permutation_type="samples" flips the signs of its differences.
    result = stats.permutation_test((diff,), np.mean, permutation_type="samples", vectorized=True,
                                    n_resamples=2 ** EXACT_PAIRS if diff.size <= EXACT_PAIRS else MC_RESAMPLES,
                                    alternative="two-sided", rng=np.random.default_rng(seed))
    return {"delta": float(diff.mean()), "p": float(min(1.0, result.pvalue))}


def bootstrap_interval(diff: Sequence[float], seed: int = 0, level: float = 0.95) -> list[float] | None:
    """The percentile bootstrap interval of the mean of paired differences (users resampled with replacement)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0:
        return None
    rows = np.random.default_rng(seed).integers(0, diff.size, (BOOTSTRAP_RESAMPLES, diff.size))
    means = diff[rows].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]


def users_needed_mcnemar(b: int, c: int, n: int, comparisons: int = 1, alpha: float = NEEDED_ALPHA) -> int | None:
    """Users for McNemar's p · ``comparisons`` < ``alpha`` at the observed discordance rate and split (module doc)."""
    if n == 0 or b == c:
        return None
    rate, share = (b + c) / n, b / (b + c)

    def significant(discordant: int) -> bool:
        wins = round(share * discordant)
        return comparisons * mcnemar_exact(wins, discordant - wins) < alpha

    # p falls as the discordant pairs grow at a fixed split: double past the answer, then bisect.
    low, high = 0, 1
    while not significant(high):
        low, high = high, 2 * high
        if high > NEEDED_CAP * rate:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if significant(middle) else (middle, high)
    return int(np.ceil(high / rate))


def users_needed_sign_flip(diff: Sequence[float], comparisons: int = 1, alpha: float = NEEDED_ALPHA) -> int | None:
    """Users for the sign-flip test's p · ``comparisons`` < ``alpha`` at the observed differences (module doc)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0 or diff.mean() == 0:
        return None
    z = stats.norm.ppf(1 - alpha / comparisons / 2)
    needed = int(np.ceil(z ** 2 * np.mean(diff ** 2) / diff.mean() ** 2))
    return needed if needed <= NEEDED_CAP else None


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjustment of a family of p-values (None: no test, left out of the family)."""
    tested = sorted((p, name) for name, p in p_values.items() if p is not None)
    adjusted: dict[str, float | None] = dict.fromkeys(p_values)
    running = 0.0
    for rank, (p, name) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[name] = running
    return adjusted


def paired_sessions(method: Sequence[SessionRecord], baseline: Sequence[SessionRecord]) -> list[tuple[SessionRecord, SessionRecord]]:
    """(method, baseline) records of the users both have a session of (errored ones are failures), in the
    method's order."""
    theirs = {r.user: r for r in baseline}
    return [(r, theirs[r.user]) for r in method if r.user in theirs]


def compare(method: Sequence[SessionRecord], baseline: Sequence[SessionRecord], max_turns: int, seed: int = 0,
            comparisons: int = 1) -> dict:
    """One method against the baseline: McNemar at SR@1/3/5 and the sign-flip test of AT (unadjusted p), and
    for SR@5 and AT the effect: bootstrap interval and users needed in a family of ``comparisons``."""
    pairs = paired_sessions(method, baseline)
    result: dict = {"pairs": len(pairs), "mcnemar": {}}
    for t in SR_TURNS:
        b = sum(succeeded_by(m, t) and not succeeded_by(o, t) for m, o in pairs)
        c = sum(succeeded_by(o, t) and not succeeded_by(m, t) for m, o in pairs)
        result["mcnemar"][f"SR@{t}"] = {"b": b, "c": c, "delta": (b - c) / len(pairs) if pairs else None,
                                        "p": mcnemar_exact(b, c)}
    at = [turns_taken(m, max_turns) - turns_taken(o, max_turns) for m, o in pairs]
    result["AT"] = sign_flip_test(at, [0] * len(at), seed)
    sr5 = result["mcnemar"]["SR@5"]
    result["effect"] = {
        "SR@5": {"ci": bootstrap_interval([succeeded_by(m, 5) - succeeded_by(o, 5) for m, o in pairs], seed),
                 "users_needed": users_needed_mcnemar(sr5["b"], sr5["c"], len(pairs), comparisons)},
        "AT": {"ci": bootstrap_interval(at, seed), "users_needed": users_needed_sign_flip(at, comparisons)},
    }
    return result


def adjust(comparisons: Mapping[str, dict]) -> None:
    """Add ``p_holm`` to every test of ``comparisons`` (method → ``compare`` result), one family per column."""
    for column in (f"SR@{t}" for t in SR_TURNS):
        adjusted = holm({m: r["mcnemar"][column]["p"] for m, r in comparisons.items()})
        for method, result in comparisons.items():
            result["mcnemar"][column]["p_holm"] = adjusted[method]
    adjusted = holm({m: r["AT"]["p"] for m, r in comparisons.items()})
    for method, result in comparisons.items():
        result["AT"]["p_holm"] = adjusted[method]


def significant_improvements(comparison: dict, alpha: float = ALPHA) -> set[str]:
    """The columns where the method is significantly better than the baseline (after ``adjust``)."""
    better = {name for name, test in comparison["mcnemar"].items() if test["b"] > test["c"] and test["p_holm"] < alpha}
    at = comparison["AT"]
    if at["delta"] is not None and at["delta"] < 0 and at["p_holm"] is not None and at["p_holm"] < alpha:
        better.add("AT")
    return better
