"""Table 2 (methods), Table 3 (ablations), Figure 5 (DSR@5) and per-turn costs, from evaluation runs.

    python bench/interactive.py [--datasets ml-latest-small steam beauty] [--n-sessions 10] [--minutes 45]
                                [--simulator attribute|llm] [--lm …] [--sim-lm …] [--api-base …] [--seed 0] [--resume]

Per dataset, one evaluation run (``EvalRun``, what `afirs-dspy eval` runs) of every method on the same
seeded test users — the evidence users, which no development benchmark samples — user by user,
for up to --n-sessions users or until --minutes have passed (the user started by then still gets every
method); the tables cover the users every method finished. Its folder under bench/results/interactive/
keeps the transcript and run.json; --resume adds users for another --minutes to a run made by the same
code, programs and settings (eval refuses any other), and without it an existing run is an error
(--report-only adds none: it tables what the transcripts hold, e.g. after running the datasets in
parallel processes). Then the tables with the paired tests against the best baseline by
SR@5, the paper's numbers beside ours, and a replay of a few sessions with every LM answer from DSPy's
cache, which measures the non-LLM milliseconds of a turn.
Writes bench/results/interactive_<simulator>.{md,json} and dsr_<simulator>.png.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import matplotlib

from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.eval_run import EvalRun, EvalSettings
from afirs_dspy.evaluation.metrics import ok
from afirs_dspy.evaluation.runner import complete_users
from afirs_dspy.evaluation.summary import best_baseline, build_summary
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.utils.tables import markdown_table
from lm_arguments import add_lm_arguments, lm_settings
from paper_numbers import PAPER_DATASET, TABLE2, TABLE3
from results_files import RESULTS, write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BASELINES = ("zero-shot", "react", "chatcrs", "rah", "llmcrs", "interecagent", "macrec")
ABLATIONS = ("decision-first", "no-llm2rs", "no-refine")
METHODS = (*BASELINES, "afirs", *ABLATIONS)
REPLAY_SESSIONS = 2
BASELINE_RULE = "the best baseline by SR@5 (ties: lower AT, then the order listed)"


def run_eval(dataset: str, out: Path, n_sessions: int, args, **changes) -> None:
    """An evaluation run of every method on the dataset's test (evidence) users; ``changes`` sets more of its
    settings (e.g. resume, time_limit)."""
    settings = EvalSettings(methods=tuple(args.methods), n_sessions=n_sessions, simulator=args.simulator,
                            seed=args.seed, out=str(out), num_threads=args.num_threads,
                            **lm_settings(args, simulator=True), **changes)
    for line, to_stderr in EvalRun(settings, load_dataset(dataset)).run().lines():
        print(line, file=sys.stderr if to_stderr else sys.stdout)


def summarise(folder: Path, methods: list[str], seed: int) -> dict:
    """The run's summary, tested against the best baseline (``BASELINE_RULE``)."""
    latest = Transcript(folder / TRANSCRIPT).latest()
    by_method = complete_users({m: [r for (method, _), r in latest.items() if method == m] for m in methods})
    best = best_baseline(by_method, [m for m in methods if m in BASELINES], 5)
    return build_summary(by_method, methods, 5, 50, best, seed, BASELINE_RULE)


def summary_rows(summaries: dict, methods, columns: tuple[str, ...]) -> str:
    """One row per method, ``columns`` of each dataset's summary row side by side (– where not computed)."""
    rows = []
    for method in methods:
        row = {"method": method}
        for dataset, summary in summaries.items():
            ours = next(r for r in summary["rows"] if r["method"] == method)
            row.update({f"{dataset} {c}" if len(summaries) > 1 else c: shown(ours[c], 2) for c in columns})
        rows.append(row)
    return markdown_table(rows)


def replay_ms(dataset: str, folder: Path, n_users: int, args) -> dict[str, float | None]:
    """Non-LLM milliseconds per turn (median, so that one-time loads such as the embedder's do not count):
    the first ``n_users`` sessions again, every LM answer from DSPy's cache."""
    if n_users == 0:  # eval's --n-sessions 0 would mean every user
        return dict.fromkeys(args.methods)
    replay = folder / "replay"
    shutil.rmtree(replay, ignore_errors=True)
    run_eval(dataset, replay, n_users, args, no_progress=True)
    records = Transcript(replay / TRANSCRIPT).read()
    shutil.rmtree(replay)
    per_method = {}
    for method in args.methods:
        turns = [t for r in ok(records) if r.method == method for t in r.turns]
        per_method[method] = 1000 * statistics.median(t.program_usage.seconds for t in turns) if turns else None
    return per_method


def shown(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(summaries: dict, methods, paper: dict) -> str:
    rows = []
    for method in methods:
        row = {"method": method}
        for dataset, summary in summaries.items():
            ours = next((r for r in summary["rows"] if r["method"] == method), None)
            star = lambda key: "*" if ours and key in ours["significant"] else ""  # noqa: E731
            for key in ("SR@1", "SR@3", "SR@5", "AT"):
                value = ours[key] if ours else None
                row[f"{dataset} {key}"] = "–" if value is None else f"{value:.2f}{star(key)}"
            row[f"{dataset} n"] = ours["sessions"] if ours else 0
            row[f"{dataset} errors"] = ours["errors"] if ours else 0
            published = paper.get(method, {}).get(PAPER_DATASET.get(dataset, ""), None)
            row[f"paper {PAPER_DATASET.get(dataset, '?')} SR@5/AT"] = f"{published[2]:.2f} / {published[3]:.2f}" if published else "–"
        rows.append(row)
    return markdown_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["ml-latest-small", "steam", "beauty"])
    parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS))
    parser.add_argument("--n-sessions", type=int, default=10, help="at most this many test users per dataset")
    parser.add_argument("--minutes", type=float, default=45,
                        help="per dataset: no new user starts after this many minutes (0: no limit)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the runs already in bench/results/interactive/ (same code and settings only)")
    parser.add_argument("--report-only", action="store_true", help="run no new session; table the transcripts")
    parser.add_argument("--simulator", choices=["attribute", "llm"], default="attribute")
    add_lm_arguments(parser, simulator=True)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summaries, replays = {}, {}
    for dataset in args.datasets:
        subset = "" if args.methods == list(METHODS) else "-" + "+".join(args.methods)
        folder = RESULTS / "interactive" / f"{dataset}-{args.simulator}-n{args.n_sessions}-seed{args.seed}{subset}"
        if not args.report_only:
            run_eval(dataset, folder, args.n_sessions, args, time_limit=args.minutes or None, resume=args.resume)
        elif not (folder / TRANSCRIPT).exists():
            parser.error(f"--report-only: no run in {folder}")
        summaries[dataset] = summarise(folder, args.methods, args.seed)
        n_users = max(row["sessions"] for row in summaries[dataset]["rows"])
        replays[dataset] = replay_ms(dataset, folder, min(REPLAY_SESSIONS, n_users), args)
    cost_rows = [{"dataset": d, "method": m, "LM calls/turn": shown(c["lm_calls_per_turn"]), "uncached calls": c["uncached_calls"],
                  "prompt tokens/turn": shown(c["prompt_tokens_per_turn"]),
                  "completion tokens/turn": shown(c["completion_tokens_per_turn"]),
                  "s/turn": shown(c["seconds_per_turn"]), "non-LLM ms/turn": shown(replays[d][m])}
                 for d, s in summaries.items() for m, c in s["costs"].items()]
    baselines = {d: s["baseline"] for d, s in summaries.items()}
    text = "\n".join([
        f"# Interactive evaluation: {args.simulator} simulator, seed {args.seed}",
        "", f"Up to {args.n_sessions} test users per dataset: those every method finished (column n), "
        + ("in the runs so far" if args.report_only or not args.minutes
           else f"new users started within {args.minutes:g} minutes per dataset") + ".",
        "", f"LM: {args.lm or 'embedded local model (see bench/README.md)'}; simulator LM: "
        + (args.sim_lm or ("the same" if args.simulator == "llm" else "none (attribute simulator)")) + ".",
        "* : significantly better than the best baseline by SR@5 "
        + ", ".join(f"({d}: {b})" for d, b in baselines.items()) + ", p < 0.01 after Holm's correction across the "
        "methods compared (SR@t: exact McNemar; AT: paired sign-flip permutation test). Errored sessions (column "
        "errors) count as failures.",
        "", "## Table 2: methods", "", table(summaries, [m for m in args.methods if m not in ABLATIONS], TABLE2),
        "", "## Table 3: ablations", "", table(summaries, [m for m in args.methods if m == "afirs" or m in ABLATIONS], TABLE3),
        "", "## Figure 5: DSR@5", "", summary_rows(summaries, args.methods, ("DSR@5",)), "",
        "–: the method does not compute the list it would recommend when it asks (it decides first, or has no "
        "tool), so its asks cannot be judged.",
        "", "## HR@50 of each method's own candidates (first turn; per turn, mean over sessions)", "",
        summary_rows(summaries, args.methods, ("HR@50 first turn", "HR@50 per turn")), "",
        "–: the method passes no candidate list from a tool to its LM.",
        "", "## Cost per turn (program LM; non-LLM ms: median turn of a replay of the first "
        f"{REPLAY_SESSIONS} user(s) with every LM answer from DSPy's cache)", "",
        markdown_table(cost_rows), "",
        "A call answered from DSPy's cache (the same prompt seen before, by another method or an earlier run on "
        "this machine) costs ~0 s, so tokens and seconds per turn price every LM call at the mean tokens and "
        "seconds of the method's calls that reached the model (column 'uncached calls'; turns recorded before "
        "this count existed are left out of that mean).", "",
    ])
    write_results(f"interactive_{args.simulator}", {"args": vars(args), "summaries": summaries, "non_llm_ms": replays}, text)
    figure, axis = plt.subplots(figsize=(max(6, len(args.methods)), 3.5))
    width = 0.8 / len(summaries)
    for k, (dataset, summary) in enumerate(summaries.items()):
        values = [next(r["DSR@5"] for r in summary["rows"] if r["method"] == m) for m in args.methods]
        judged = [i for i, v in enumerate(values) if v is not None]  # no bar where DSR is – (not computable)
        axis.bar([i + k * width for i in judged], [values[i] for i in judged], width, label=dataset)
    axis.set_xticks([i + width * (len(summaries) - 1) / 2 for i in range(len(args.methods))], args.methods, rotation=30)
    axis.set(ylabel="DSR@5", ylim=(0, 1), title="Decision success rate (Figure 5)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / f"dsr_{args.simulator}.png", dpi=120)


if __name__ == "__main__":
    main()
