"""Evidence that accumulates (issue 34): a pinned evidence run, its state, its tables and its shards.

    python bench/evidence.py run    --plan bench/plans/PLAN.json [--time-limit MIN] [--shard K/N] [--num-threads T]
                                    [--cores 1] [--python PATH] [--worktrees DIR] [--progress]
    python bench/evidence.py status --plan bench/plans/PLAN.json
    python bench/evidence.py tables --plan bench/plans/PLAN.json
    python bench/evidence.py merge  --plan bench/plans/PLAN.json

``run`` takes the plan's cells in priority order (``evidence_plan``: the pilots, then the cells as listed)
and runs each until it has its users before starting the next: `afirs-dspy eval` of the pinned commit
(``evidence_checkout``: a worktree of it with its own environment) on the held-out evidence users, every
method of the cell on one user before the next (paired), resumed from the cell's transcript under
``bench/results/evidence/<plan>/<cell>/`` (``evidence_runs``); a compile cell first compiles its programs.
``--time-limit`` starts no new user after that many minutes in all; the run stops at the first cell still
short of its users (a time limit, or sessions that errored: run again to retry them). The LM runs on
``--cores`` cores (1: one llama.cpp thread, so that development keeps the other core); ``--num-threads``
runs sessions in parallel against a served LM (``plan.lm`` with its ``api_base``). ``--shard K/N`` runs slice
K of N of every cell's users into ``<cell>/shard-KofN/`` (one machine's share); ``merge`` joins the slices
into ``<cell>/`` once they are shown to share the plan, code, program hashes and settings, then writes the
tables. ``status`` prints the users every cell has; ``tables`` rebuilds ``tables.{md,json}`` from the
transcripts alone. Commit the results folder with the work: the transcripts are the evidence.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from afirs_dspy.evaluation.sampling import Shard
from afirs_dspy.utils.tables import markdown_table
from evidence_checkout import CheckoutError, PinnedCode, checkout
from evidence_plan import Cell, Plan, PlanError, load_plan
from evidence_runs import (EVIDENCE, MergeRefused, bind_plan, compiled_program, finished_users, merge, pack,
                           pilot_choice, planned_users, read_records, run_folder, stamp, unpack)
from evidence_tables import status_rows, write_tables
from lm_arguments import option_words

REPO = Path(__file__).resolve().parents[1]
Execute = Callable[[list[str]], int]


def lm_arguments(plan: Plan, simulator: str) -> list[str]:
    pairs = [("--lm", plan.lm), ("--api-base", plan.api_base)]
    if simulator == "llm":
        pairs += [("--sim-lm", plan.sim_lm), ("--sim-api-base", plan.sim_api_base)]
    return option_words([*pairs, ("--artifacts-dir", plan.artifacts_dir)])


def compile_arguments(plan: Plan, cell: Cell, program: Path, optimizer: str, n_sessions: int) -> list[str]:
    return ["compile", "--dataset", cell.dataset, "--optimizer", optimizer, "--n-sessions", str(n_sessions),
            "--seed", str(plan.seed), "--max-turns", str(plan.max_turns), "--out", str(program), "--no-progress",
            *lm_arguments(plan, "attribute")]


def eval_arguments(plan: Plan, cell: Cell, methods: Sequence[str], programs: dict[str, Path], folder: Path,
                   shard: Shard | None, minutes: float | None, num_threads: int, progress: bool = False) -> list[str]:
    """`afirs-dspy eval` of the cell: its methods (``programs``: the compiled ones, by name) on the plan's users,
    resumed in ``folder``."""
    arguments = ["eval", "--dataset", cell.dataset, "--simulator", cell.simulator, "--n-sessions", str(cell.users),
                 "--users", plan.users, "--seed", str(plan.seed), "--max-turns", str(plan.max_turns),
                 "--num-threads", str(num_threads), "--out", str(folder), "--resume"]
    named = [m for m in methods if m not in programs]
    arguments += ["--method", ",".join(named)] if named else []
    arguments += [word for m in methods if m in programs for word in ("--program", str(programs[m]))]
    arguments += ["--shard", str(shard)] if shard else []
    arguments += ["--time-limit", f"{minutes:g}"] if minutes is not None else []
    arguments += [] if progress else ["--no-progress"]
    return [*arguments, *lm_arguments(plan, cell.simulator)]


def on_cores(cores: int) -> Callable[[], None] | None:
    """Pin a child process to the last ``cores`` usable cores (0: no pinning)."""
    if not cores:
        return None
    chosen = sorted(os.sched_getaffinity(0))[-cores:]
    return lambda: os.sched_setaffinity(0, chosen)


def subprocess_executor(cores: int) -> Execute:
    def execute(command: list[str]) -> int:
        print("$ " + " ".join(command), flush=True)
        return subprocess.run(command, cwd=REPO, preexec_fn=on_cores(cores)).returncode
    return execute


def run(plan: Plan, code: PinnedCode, execute: Execute, shard: Shard | None = None, time_limit: float | None = None,
        num_threads: int = 1, progress: bool = False, root: Path = EVIDENCE) -> str:
    """Run the plan's cells in priority order until one is still short of its users; say where it stopped."""
    deadline = None if time_limit is None else time.monotonic() + 60 * time_limit
    for cell in plan.ordered_cells():
        methods = cell.run_methods(pilot_choice(plan, root))
        if methods is None:
            return (f"{cell.name} waits for the pilots' choice: every pilot cell needs its users"
                    + (" (merge the pilot shards first)" if shard else ""))
        folder = run_folder(plan, cell, shard, root)
        if len(finished_users(read_records(folder), methods)) >= planned_users(cell, shard):
            continue
        minutes = None if deadline is None else (deadline - time.monotonic()) / 60
        if minutes is not None and minutes <= 0:
            return f"time limit reached before {cell.name}"
        programs = {spec.program: compiled_program(plan, cell, spec, root) for spec in cell.compile}
        for spec in cell.compile:
            program = programs[spec.program]
            if program.is_file():
                continue
            if shard and shard.index != 1:
                return f"{cell.name} needs {program}, which shard 1 (or an unsharded run) compiles: pull it first"
            if execute(code.command(*compile_arguments(plan, cell, program, spec.optimizer, spec.n_sessions))):
                return f"compiling {spec.program} for {cell.name} failed; its saved work lets a rerun continue"
        stamp(folder, plan, shard)
        unpack(folder)
        status = execute(code.command(*eval_arguments(plan, cell, methods, programs, folder, shard, minutes,
                                                      num_threads, progress)))
        pack(folder)
        done = len(finished_users(read_records(folder), methods))
        if done < planned_users(cell, shard):
            why = (f"eval's exit status {status}" if status else "the time limit" if minutes is not None
                   else "sessions that errored")
            return f"{cell.name} stopped at {done} of {planned_users(cell, shard)} users ({why}); run again to continue"
    return "every cell has its users"


def main(argv: Sequence[str] | None = None, execute: Execute | None = None, code: PinnedCode | None = None,
         root: Path = EVIDENCE) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "status", "tables", "merge"))
    parser.add_argument("--plan", type=Path, required=True, help="bench/plans/<name>.json")
    parser.add_argument("--time-limit", type=float, default=None, help="run: no new user after this many minutes")
    parser.add_argument("--shard", type=Shard.parse, default=None, metavar="K/N",
                        help="run: slice K of N of every cell's users (one machine's share)")
    parser.add_argument("--num-threads", type=int, default=1, help="run: sessions in parallel (a served LM)")
    parser.add_argument("--cores", type=int, default=1, help="run: cores the pinned runs may use (0: all)")
    parser.add_argument("--python", type=Path, default=None,
                        help="run: an interpreter with the pinned commit installed (default: its own worktree)")
    parser.add_argument("--worktrees", type=Path, default=None, help="run: where pinned worktrees are made")
    parser.add_argument("--progress", action="store_true", help="run: show eval's progress bars")
    args = parser.parse_args(argv)
    try:
        plan = load_plan(args.plan)
        if args.command == "run":
            if not plan.pinned:
                raise PlanError(f"{args.plan}: commit {plan.commit!r} is not pinned to a 40-hex commit yet")
            bind_plan(plan, args.plan, root)
            code = code or checkout(plan.commit, REPO, args.worktrees, args.python)
            print(run(plan, code, execute or subprocess_executor(args.cores), args.shard, args.time_limit,
                      args.num_threads, args.progress, root))
        elif args.command == "merge":
            for cell in plan.ordered_cells():
                merged = merge(plan, cell, root)
                if merged:
                    print(f"{cell.name}: {merged.sessions} sessions from {', '.join(merged.shards)} in {merged.folder}")
        if args.command == "status":
            print(markdown_table(status_rows(plan, pilot_choice(plan, root), root)))
        else:
            print(f"tables: {write_tables(plan, root)}")
    except (PlanError, CheckoutError, MergeRefused) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
