"""Everything a run reports, computed from the session records: one dict, written out by ``report``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from afirs_dspy.evaluation.metrics import costs, success_curve, summarize
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.significance import (ALPHA, AT_TEST, CORRECTION, SR_TEST, adjust, compare,
                                                significant_improvements)


def notes(max_turns: int, n_candidates: int, baseline: str | None, n_compared: int = 0) -> list[str]:
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
        correction = f", {CORRECTION}-adjusted over the {n_compared} methods compared" if n_compared > 1 else ""
        lines.append(f"* : significantly better than {baseline} on the same users, p < {ALPHA}{correction} "
                     f"(SR@t: {SR_TEST}; AT: {AT_TEST}, exact for small n).")
    return lines


def build_summary(by_method: Mapping[str, Sequence[SessionRecord]], methods: Sequence[str], max_turns: int,
                  n_candidates: int, baseline: str | None = None, seed: int = 0) -> dict:
    comparisons = {method: compare(by_method.get(method, []), by_method.get(baseline, []), max_turns, seed)
                   for method in methods if baseline and method != baseline}
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
        "notes": notes(max_turns, n_candidates, baseline, len(comparisons)),
    }
