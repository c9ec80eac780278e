"""Latency of one tool call (user embedding + filtering + ranking) on synthetic catalogs.

    python bench/tool_latency.py [--sizes 10000 1000000] [--calls 200]

Writes bench/results/tool_latency.{json,md}. The model has the ml-latest-small
architecture (hidden 64, 2 blocks, max_len 200) with random weights: latency does
not depend on training. Every history holds max_len items, the longest input.
Each size is timed with the tool's default of one torch thread per call and with
torch's default thread count (all cores), which stalls whenever another process
holds a core.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from afirs_dspy.recsys.config import default_config
from afirs_dspy.recsys.machine import machine_info, machine_line
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.synthetic import synthetic_index
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.utils.tables import markdown_table
from results_files import RESULTS, write_results

N_KEYS = 200
TARGETS_MS = {10_000: 5, 1_000_000: 100}

# name -> (method, preference/attribute keys). Key j holds ~1/(j+2) of the items.
CASES = {
    "plain SASRec top-50": ("recommend", None),
    "2 broad preferences (1/2, 1/3 of items)": ("recommend", ["k0", "k1"]),
    "3 narrow preferences, relax + fill": ("recommend", ["k100", "k150", "k199"]),
    "attribute hard filter": ("recommend_with_attribute_filter", ["k0", "k3"]),
}


def time_calls(call, histories) -> np.ndarray:
    """Milliseconds per call, one call per history, after three warm-up calls."""
    for history in histories[:3]:
        call(history)
    times = []
    for history in histories:
        start = time.perf_counter()
        call(history)
        times.append((time.perf_counter() - start) * 1000)
    return np.asarray(times)


def bench_size(n_items: int, calls: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    config = default_config("ml-latest-small")
    model = SASRec(n_items, config).eval()
    index = synthetic_index(n_items, N_KEYS, seed)
    tool = RecsysTool(model, index, index, rng.random(n_items + 1).astype(np.float32))
    histories = [rng.choice(n_items, config.max_len, replace=False) + 1 for _ in range(calls)]
    calls_by_case = {name: (lambda h, run=getattr(tool, method), keys=keys: run(h, keys, k=50))
                     for name, (method, keys) in CASES.items()}
    calls_by_case["user embedding only"] = tool.user_embedding
    rows = []
    for threads in (1, None):
        tool.threads = threads
        for name, call in calls_by_case.items():
            ms = time_calls(call, histories)
            example = call(histories[0])
            rows.append({"items": n_items, "torch threads": threads or torch.get_num_threads(), "case": name,
                         "median ms": float(np.median(ms)), "p95 ms": float(np.percentile(ms, 95)),
                         "max ms": float(ms.max()), "target ms": TARGETS_MS.get(n_items),
                         "stages": example.stage_counts() if hasattr(example, "stage_counts") else {}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(TARGETS_MS))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = [row for n in args.sizes for row in bench_size(n, args.calls)]
    machine = machine_info("cpu")
    table = [{**row, "stages": ", ".join(f"{s}: {c}" for s, c in row["stages"].items()),
              **{k: f"{row[k]:.2f}" for k in ("median ms", "p95 ms", "max ms")}} for row in rows]
    text = "\n".join([
        "# Recommender tool latency (one user, k=50, CPU)",
        "",
        machine_line(machine),
        f"{args.calls} calls per row after 3 warm-up calls, histories of 200 items, {N_KEYS} index keys.",
        "",
        markdown_table(table),
        "",
    ])
    write_results("tool_latency", {"machine": machine, "calls": args.calls, "results": rows}, text, args.out)


if __name__ == "__main__":
    main()
