"""A run's results as files: results.md (tables like the paper's Tables 2 and 3, significance, costs),
results.csv (one row per method), results.json (everything) and sr_curve.png (SR@t against t)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from afirs_dspy.programs.registry import WHY_NO_DSR
from afirs_dspy.utils.tables import markdown_table

METRICS = ("SR@1", "SR@3", "SR@5", "AT", "DSR@5")
COSTS = {
    "LM calls/turn": "lm_calls_per_turn", "uncached calls": "uncached_calls", "prompt tok/turn": "prompt_tokens_per_turn",
    "completion tok/turn": "completion_tokens_per_turn", "s/turn": "seconds_per_turn",
    "s/session": "seconds_per_session", "sim LM calls/session": "simulator_lm_calls_per_session",
    "parse failures": "parse_failures", "invalid outputs": "invalid_outputs", "fallbacks": "fallbacks",
    "sim leaks": "simulator_leaks", "sim stripped": "simulator_stripped",
}


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _hr_columns(summary: dict) -> list[str]:
    return [k for k in summary["rows"][0] if k.startswith("HR@")]


def results_table(summary: dict) -> str:
    rows = []
    for row in summary["rows"]:
        cells = {"Method": row["method"]}
        for name in METRICS:
            cells[name] = _fmt(row[name]) + ("*" if name in row["significant"] else "")
        for name in _hr_columns(summary):
            cells[name] = _fmt(row[name])
        cells["sessions"] = row["sessions"]
        cells["errors"] = row["errors"]
        rows.append(cells)
    return markdown_table(rows)


def _interval(ci: list[float] | None) -> str:
    return "–" if ci is None else f"[{ci[0]:+.2f}, {ci[1]:+.2f}]"


def _users(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def significance_table(summary: dict) -> str:
    """Per method: ΔSR@5 with its interval, McNemar's b/c and p, ΔAT with its interval and the sign-flip p (raw
    and Holm-adjusted), and the users each difference would need (``significance`` module doc)."""
    tests = summary["tests"]
    adjusted = f" ({tests['correction']})" if tests["correction"] else ""
    rows = []
    for method, result in summary["comparisons"].items():
        at, mc, effect = result["AT"], result["mcnemar"]["SR@5"], result["effect"]
        rows.append({
            "Method": method, "vs": summary["baseline"], "pairs": result["pairs"], "ΔSR@5": _fmt(mc["delta"]),
            "ΔSR@5 95% CI": _interval(effect["SR@5"]["ci"]), "McNemar b/c": f"{mc['b']}/{mc['c']}",
            "p SR@5": _fmt(mc["p"], 4), f"p SR@5{adjusted}": _fmt(mc["p_holm"], 4),
            "users needed SR@5": _users(effect["SR@5"]["users_needed"]), "ΔAT": _fmt(at["delta"]),
            "ΔAT 95% CI": _interval(effect["AT"]["ci"]), "p AT": _fmt(at["p"], 4), f"p AT{adjusted}": _fmt(at["p_holm"], 4),
            "users needed AT": _users(effect["AT"]["users_needed"]),
        })
    return markdown_table(rows)


def costs_table(summary: dict) -> str:
    rows = []
    for method, cost in summary["costs"].items():
        row = {"Method": method}
        for label, key in COSTS.items():
            value = cost[key]
            row[label] = value if value is None or isinstance(value, int) else _fmt(value, 2 if value < 100 else 0)
        rows.append(row)
    return markdown_table(rows)


def funnel_table(summary: dict) -> str:
    return markdown_table([{"Method": method, **{k: "–" if v is None else v for k, v in counts.items()}}
                           for method, counts in summary["funnel"].items()])


def missing_dsr_lines(summary: dict) -> list[str]:
    """Per method whose DSR@5 is blank, why: the registry's reason, or the turns that lack a judged decision."""
    return [f"{row['method']}: no DSR@5, "
            + WHY_NO_DSR.get(row["method"], "some of its ask turns carry no list it would have recommended")
            for row in summary["rows"] if row["DSR@5"] is None and row["sessions"]]


def render_markdown(summary: dict, title: str) -> str:
    parts = [f"## {title}", "", results_table(summary), ""]
    if missing := missing_dsr_lines(summary):
        parts += [f"- {line}" for line in missing] + [""]
    if summary["comparisons"]:
        tests = summary["tests"]
        parts += [f"Paired tests against {summary['baseline']} (SR@t: {tests['SR']}; AT: {tests['AT']}"
                  + (f"; {tests['correction']}-adjusted across the methods" if tests["correction"] else "") + "):",
                  "", significance_table(summary), ""]
    parts += ["Costs (program LM per turn and session; simulator apart; tokens and seconds price every LM call "
              "at the mean of the calls that reached the model, not DSPy's cache):", "", costs_table(summary), ""]
    parts += ["Where the turns lost the target (counts of turns over the sessions; n: the length of the list "
              "shown; `shown = tool's first n`: the list shown is the tool's own head, in order; "
              "`afirs_dspy.evaluation.target_funnel`):", "", funnel_table(summary), ""]
    parts += [f"- {line}" for line in summary["notes"]]
    return "\n".join(parts) + "\n"


def csv_frame(summary: dict) -> pd.DataFrame:
    rows = []
    for row in summary["rows"]:
        flat = {k: v for k, v in row.items() if k != "significant"}
        flat["significant"] = " ".join(row["significant"])
        result = summary["comparisons"].get(row["method"])
        if result:
            flat.update({"vs": summary["baseline"], "delta_SR@5": result["mcnemar"]["SR@5"]["delta"],
                         "p_SR@5_mcnemar": result["mcnemar"]["SR@5"]["p"],
                         "p_SR@5_mcnemar_holm": result["mcnemar"]["SR@5"]["p_holm"], "delta_AT": result["AT"]["delta"],
                         "p_AT_sign_flip": result["AT"]["p"], "p_AT_sign_flip_holm": result["AT"]["p_holm"],
                         "users_needed_SR@5": result["effect"]["SR@5"]["users_needed"],
                         "users_needed_AT": result["effect"]["AT"]["users_needed"]})
        flat.update(summary["costs"][row["method"]])
        flat.update(summary["funnel"][row["method"]])
        rows.append(flat)
    return pd.DataFrame(rows)


def plot_curves(summary: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for method, curve in summary["curves"].items():
        turns = [t for t, v in enumerate(curve, start=1) if v is not None]
        ax.plot(turns, [v for v in curve if v is not None], marker="o", label=method)
    n_turns = max((len(c) for c in summary["curves"].values()), default=5)
    ax.set(xlabel="turn t", ylabel="SR@t", ylim=(0, 1), xticks=range(1, n_turns + 1))
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(summary: dict, config: dict, folder: Path, title: str) -> dict[str, Path]:
    """Write the four result files into ``folder``; return their paths by kind."""
    paths = {"markdown": folder / "results.md", "csv": folder / "results.csv", "json": folder / "results.json",
             "plot": folder / "sr_curve.png"}
    paths["markdown"].write_text(render_markdown(summary, title))
    csv_frame(summary).to_csv(paths["csv"], index=False)
    paths["json"].write_text(json.dumps({"config": config, **summary}, indent=1))
    plot_curves(summary, paths["plot"], title)
    return paths
