"""Choosing SASRec's per-dataset config on the validation split; write bench/results/recsys_tune.{json,md}.

    python bench/recsys_tune.py [--datasets ml-latest-small steam beauty] [--seed 42] [--threads N] [--report-only]

Each variant is the dataset's default config (``recsys/config.py``) with the values it names changed, trained
once with early stopping on validation (no refit: only validation is read here), its score prior fitted on
validation. The test split is never scored: a change is made a default where it raises the validation
NDCG@10 of the tool's ranking (cosine plus its prior) by more than 1%.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from afirs_dspy.data import load_dataset
from afirs_dspy.recsys.config import default_config
from afirs_dspy.recsys.machine import machine_info, machine_line
from afirs_dspy.recsys.score_prior import ScorePrior, fit_prior_weights
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.recsys.trainer import train_sasrec
from afirs_dspy.utils.tables import markdown_table
from results_files import RESULTS, write_results

DATASETS = ("ml-latest-small", "steam", "beauty")
ISSUE_19 = {"item_features": False}  # the config before side information (issue 19's choices)
FEATURES = {"item_features": True}
# Every variant spells out what it changes from the dataset's default, so the runs do not depend on it.
VARIANTS = {
    "ml-latest-small": {"issue 19": ISSUE_19, "+ side information": FEATURES},
    "steam": {"issue 19": {**ISSUE_19, "patience": 10}, "+ side information": {**FEATURES, "patience": 10},
              "+ side information, patience 20": {**FEATURES, "patience": 20},
              "+ side information, patience 20, dropout 0.3": {**FEATURES, "patience": 20, "dropout": 0.3},
              "+ side information, patience 20, dropout 0.7": {**FEATURES, "patience": 20, "dropout": 0.7},
              "+ side information, patience 20, lr 4e-3": {**FEATURES, "patience": 20, "lr": 4e-3}},
    "beauty": {"issue 19": ISSUE_19, "+ side information": FEATURES},
}


def tune_run(dataset, name: str, changes: dict, seed: int) -> dict:
    config = default_config(dataset.name, seed=seed, refit=False, **changes)
    result = train_sasrec(dataset, config, progress=False)
    prior = ScorePrior.from_sequences(list(dataset.train["sequence"]), dataset.n_items)
    fitted = fit_prior_weights(result.model, dataset, prior)
    default = config == default_config(dataset.name, seed=seed, refit=False)
    return {"dataset": dataset.name, "variant": name, "default": default, "changes": changes,
            "config": config.to_dict(), "valid": fitted["valid"], "prior": {s: fitted[s] for s in ("dot", "cosine")},
            "best_epoch": result.best_epoch, "seconds": result.total_seconds,
            "load_average": machine_info()["load_average"]}


def tool_ndcg(run: dict) -> float:
    return run["valid"]["cosine"]["both"]


def row(run: dict, baseline: dict) -> dict:
    """``baseline``: the dataset's issue 19 run, which each change is weighed against."""
    valid = run["valid"]
    return {"dataset": run["dataset"], "variant": run["variant"], "default": "yes" if run["default"] else "",
            "NDCG@10 dot": f"{valid['dot']['none']:.4f}", "dot + prior": f"{valid['dot']['both']:.4f}",
            "tool: cosine + prior": f"{tool_ndcg(run):.4f}",
            "tool vs issue 19": f"{tool_ndcg(run) / tool_ndcg(baseline) - 1:+.1%}", "best epoch": run["best_epoch"],
            "s": f"{run['seconds']:.0f}", "load (1 min)": f"{run['load_average'][0]:.1f}"}


def markdown(runs: list[dict], machine: dict, seed: int) -> str:
    return "\n".join([
        "# SASRec configs compared on the validation split",
        "",
        machine_line(machine),
        "",
        # Each dataset's first variant is issue 19's config, which the others are weighed against.
        markdown_table([row(run, next(r for r in runs if r["dataset"] == run["dataset"])) for run in runs]),
        "",
        f"One training per variant (seed {seed}), early stopping on validation NDCG@10, no refit; the",
        "score prior (popularity and co-occurrence weights) fitted on validation too, so the \"+ prior\"",
        "columns are optimistic for every variant alike. \"issue 19\": the config before side information;",
        "the other variants change what their names say. \"default\": the config `afirs-dspy train-recsys`",
        "uses (`recsys/config.py`): a change from issue 19's config is kept where it raises the validation",
        "NDCG@10 of the tool's ranking (cosine + prior) by more than 1% (one seed: smaller differences are",
        "within seed noise). Steam's patience of 20 beats 10 for this seed too, but needs no seed to choose it:",
        "more patience never lowers the best validation NDCG@10 that training stops on, and with 10 seed 43 (a",
        "3-seed benchmark run of commit 7ac5f3b) stopped at a bump at epoch 2 while validation was still",
        "climbing (`recsys/config.py`).",
        "The test split is not scored here. Times: validated training only, one torch thread, other jobs",
        "sharing the 2 cores (load average at the end of each run).",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: the cores are shared)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--report-only", action="store_true", help="rewrite the .md from the saved .json")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((args.out / "recsys_tune.json").read_text())
        write_results("recsys_tune", saved, markdown(saved["runs"], saved["machine"], saved["seed"]), args.out)
        return
    runs = []
    with torch_threads(args.threads):
        for name in args.datasets:
            dataset = load_dataset(name)
            for variant, changes in VARIANTS[name].items():
                runs.append(tune_run(dataset, variant, changes, args.seed))
                print(runs[-1]["variant"], runs[-1]["valid"], flush=True)
        machine = machine_info()
    write_results("recsys_tune", {"machine": machine, "seed": args.seed, "runs": runs},
                  markdown(runs, machine, args.seed), args.out)


if __name__ == "__main__":
    main()
