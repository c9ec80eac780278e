"""Train and evaluate SASRec on the bundled datasets; write bench/results/recsys.{json,md}.

    python bench/recsys_bench.py [--datasets ml-latest-small steam beauty] [--device auto] [--threads N]

Every dataset is trained from scratch with its default config (no checkpoint is
read or written) and evaluated by full ranking beside a popularity ranker.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from afirs_dspy.data import load_dataset
from afirs_dspy.recsys.artifacts import evaluation_report, resolve_device
from afirs_dspy.recsys.config import default_config
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.machine import machine_info, machine_line
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.recsys.trainer import train_sasrec
from afirs_dspy.reporting import markdown_table
from results_files import RESULTS, write_results

DATASETS = ("ml-latest-small", "steam", "beauty")
ANCHORS = """Reference points (full ranking on ML-1M, not these data sets): SASRec+ NDCG@10 0.1821 /
HR@10 0.3152 and gSASRec NDCG@10 0.1726 (Klenitskiy & Vasilev, RecSys 2023). Popularity is the floor."""


def bench_dataset(name: str, device) -> dict:
    dataset = load_dataset(name)
    config = default_config(name)
    result = train_sasrec(dataset, config, device)
    report = evaluation_report(dataset, result, device)
    cosine = evaluate(SASRecRanker(result.model, device, scoring="cosine"), dataset.test)
    return {"dataset": name, "items": dataset.n_items, "train_sequences": len(dataset.train),
            "test_sessions": len(dataset.test), "config": config.to_dict(), "cosine_test": cosine, **report}


def summary_row(entry: dict) -> dict:
    return {
        "dataset": entry["dataset"],
        "items": entry["items"],
        "test users": entry["test_sessions"],
        "HR@10": entry["test"]["HR@10"],
        "NDCG@10": entry["test"]["NDCG@10"],
        "NDCG@10 (cosine)": entry["cosine_test"]["NDCG@10"],
        "pop HR@10": entry["popularity"]["test"]["HR@10"],
        "pop NDCG@10": entry["popularity"]["test"]["NDCG@10"],
        "best epoch": entry["best_epoch"],
        "epochs": entry["epochs_run"],
        "s/epoch": f"{entry['seconds_per_epoch']:.2f}",
        "total s": f"{entry['total_seconds']:.1f}",
    }


def markdown(entries: list[dict], machine: dict) -> str:
    return "\n".join([
        "# SASRec benchmark (full ranking over all items, test split)",
        "",
        machine_line(machine),
        "",
        markdown_table([summary_row(e) for e in entries]),
        "",
        "HR/NDCG: the model's dot-product ranking, history items excluded; \"(cosine)\" ranks by the",
        "cosine the recommender tool uses; \"pop\": popularity ranker, same evaluator. s/epoch counts",
        "training steps only; total s includes the per-epoch validation and restoring the best epoch.",
        "ml-latest-small and Beauty are per-user leave-one-out; Steam is the LLaRA window split (up to",
        "10 history items per test window), as prepared by `afirs_dspy.data.load_dataset`.",
        "",
        ANCHORS,
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    device = resolve_device(args.device)
    with torch_threads(args.threads):
        entries = [bench_dataset(name, device) for name in args.datasets]
        machine = machine_info(device)
    write_results("recsys", {"machine": machine, "results": entries}, markdown(entries, machine), args.out)


if __name__ == "__main__":
    main()
