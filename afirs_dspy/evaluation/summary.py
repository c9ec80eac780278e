"""Everything a run reports, computed from the session records: one dict, written out by ``report``."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from afirs_dspy.evaluation.metrics import costs, success_curve, summarize
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.significance import ALPHA, MIN_BOOTSTRAP_PAIRS, compare, significant_improvements


def notes(max_turns: int, n_candidates: int, baseline: str | None) -> list[str]:
    lines = [
        f"SR@t: share of sessions whose target was among the recommended ids by turn t (max {max_turns} turns).",
        f"AT: mean turns per session; a failed session counts as {max_turns + 1} (max turns + 1).",
        "DSR@5: share of correct decisions over all turns up to 5 (recommend with the target in the list, "
        "or ask with the target absent from the list it would have recommended).",
        f"HR@{n_candidates}: share of turns, among those where a tool passed candidates to the LM, whose "
        f"{n_candidates} candidates contain the target; – for methods without a tool.",
        "Errored sessions (an exception escaped the program or simulator) are left out of every metric.",
    ]
    if baseline:
        lines.append(f"* : significantly better than {baseline} on the same users, p < {ALPHA} "
                     f"(SR@t: exact McNemar; AT: paired bootstrap, from {MIN_BOOTSTRAP_PAIRS} paired sessions on).")
    return lines


def build_summary(by_method: Mapping[str, Sequence[SessionRecord]], methods: Sequence[str], max_turns: int,
                  n_candidates: int, baseline: str | None = None, seed: int = 0, n_boot: int = 10_000) -> dict:
    rows, comparisons = [], {}
    for method in methods:
        records = by_method.get(method, [])
        row = {"method": method, **summarize(records, max_turns)}
        row[f"HR@{n_candidates}"] = row.pop("HR")
        row["significant"] = []
        if baseline and method != baseline:
            comparisons[method] = compare(records, by_method.get(baseline, []), max_turns, n_boot, seed)
            row["significant"] = sorted(significant_improvements(comparisons[method]))
        rows.append(row)
    return {
        "rows": rows,
        "baseline": baseline,
        "comparisons": comparisons,
        "costs": {method: costs(by_method.get(method, [])) for method in methods},
        "curves": {method: success_curve(by_method.get(method, []), max_turns) for method in methods},
        "notes": notes(max_turns, n_candidates, baseline),
    }
