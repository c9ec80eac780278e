"""Everything a run reports, computed from the session records: one dict, written out by ``report``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from afirs_dspy.evaluation.metrics import average_turns, costs, success_curve, success_rate, summarize
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.significance import (ALPHA, AT_TEST, BOOTSTRAP_RESAMPLES, CORRECTION, NEEDED_ALPHA,
                                                SR_TEST, adjust, compare, significant_improvements)
from afirs_dspy.evaluation.target_funnel import target_funnel

BASELINE_RULE = "the best other method by SR@5 (ties: lower AT, then the order listed)"


def ranked_by_sr5(by_method: Mapping[str, Sequence[SessionRecord]], candidates: Sequence[str],
                  max_turns: int) -> list[str]:
    """``candidates`` that have sessions, best first: by SR@5, ties broken by the lower AT, then by the order
    listed."""
    scored = [(success_rate(by_method.get(m, []), 5), average_turns(by_method.get(m, []), max_turns), k, m)
              for k, m in enumerate(candidates)]
    ranked = sorted((-sr, at, k, m) for sr, at, k, m in scored if sr is not None)
    return [m for *_, m in ranked]


def best_baseline(by_method: Mapping[str, Sequence[SessionRecord]], candidates: Sequence[str],
                  max_turns: int) -> str | None:
    """The default baseline: the best of ``candidates`` (the methods other than the one under test) by
    ``ranked_by_sr5``; None without a candidate that has sessions. The strongest other method, so that a
    difference marked against it is one against the best competitor."""
    return next(iter(ranked_by_sr5(by_method, candidates, max_turns)), None)


def notes(max_turns: int, n_candidates: int, baseline: str | None, n_compared: int = 0,
          baseline_rule: str | None = None) -> list[str]:
    lines = [
        f"SR@t: share of sessions whose target was among the recommended ids by turn t (max {max_turns} turns).",
        f"AT: mean turns per session; a failed session counts as {max_turns + 1} (max turns + 1).",
        "DSR@5: share of correct decisions over all turns up to 5 (recommend with the target in the list, "
        "or ask with the target absent from the list the method would recommend now); – where the method "
        "does not compute that list when it asks (it decides first, or has no tool), so its asks cannot be judged.",
        f"HR@{n_candidates}: whether the {n_candidates} candidates its tool passed to the LM contain the target, on "
        "the first turn (share of sessions) and per turn (mean over sessions of each session's share of turns); a "
        "turn without candidates is a miss; – for methods without a tool.",
        f"errors: sessions where an exception escaped the program or simulator; each counts as a failure "
        f"(AT {max_turns + 1}, no hit).",
    ]
    if baseline:
        lines.append(f"baseline: {baseline}, {baseline_rule or 'as named'}. Beside each difference (method − "
                     f"baseline, paired by user): its 95% bootstrap interval ({BOOTSTRAP_RESAMPLES:,} resamples of the "
                     f"users) and the users a difference of its size would need to reach p < {NEEDED_ALPHA} after "
                     f"{CORRECTION}'s correction over the {max(n_compared, 1)} comparison(s) of this table (SR@5: the "
                     "observed discordance rate and split scaled up under exact McNemar; AT: the normal approximation "
                     "of the sign-flip test; – where there is no difference or it would need more than a million users).")
        correction = f", {CORRECTION}-adjusted over the {n_compared} methods compared" if n_compared > 1 else ""
        lines.append(f"* : significantly better than {baseline} on the same users, p < {ALPHA}{correction} "
                     f"(SR@t: {SR_TEST}; AT: {AT_TEST}, exact for small n).")
    return lines


def build_summary(by_method: Mapping[str, Sequence[SessionRecord]], methods: Sequence[str], max_turns: int,
                  n_candidates: int, baseline: str | None = None, seed: int = 0,
                  baseline_rule: str | None = None) -> dict:
    """``baseline``: the method the others are tested against (None: no tests); ``baseline_rule`` says how it
    was chosen when it was not given by name (e.g. ``BASELINE_RULE``)."""
    others = [method for method in methods if baseline and method != baseline]
    comparisons = {method: compare(by_method.get(method, []), by_method.get(baseline, []), max_turns, seed, len(others))
                   for method in others}
    adjust(comparisons)
    rows = []
    for method in methods:
        row = {"method": method, **summarize(by_method.get(method, []), max_turns)}
        for scope in ("first turn", "per turn"):
            row[f"HR@{n_candidates} {scope}"] = row.pop(f"HR {scope}")
        row["significant"] = sorted(significant_improvements(comparisons[method])) if method in comparisons else []
        rows.append(row)
    return {
        "rows": rows,
        "baseline": baseline,
        "tests": {"SR": SR_TEST, "AT": AT_TEST, "correction": CORRECTION if len(comparisons) > 1 else None},
        "comparisons": comparisons,
        "costs": {method: costs(by_method.get(method, [])) for method in methods},
        "curves": {method: success_curve(by_method.get(method, []), max_turns) for method in methods},
        "funnel": {method: target_funnel(by_method.get(method, [])) for method in methods},
        "notes": notes(max_turns, n_candidates, baseline, len(comparisons), baseline_rule),
    }
