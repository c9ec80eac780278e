"""What a turn costs with the embedded model: AF-IRS today, scored and new in one run, and every other method's turn.

    python bench/turn_cost.py                                   # 10 users: AF-IRS's setups, others on 3
    python bench/turn_cost.py --time-limit 18                   # a chunk: no new session after 18 minutes
    python bench/turn_cost.py --methods afirs --thread-rounds 3 # also time prompt processing on 1 vs 2 threads

The first ``--turns`` turns of the same seeded test users of the development slice (attribute simulator): AF-IRS under every setup of
``bench/setups.py`` ("today": ChatAdapter and the stages' old settings; "scored": the defaults with the
refinement's LM rerank; "new": the defaults), rotating which goes first per user, so load from other jobs falls on all alike; then every other ``--methods`` entry (ablations
and baselines, new setup) on the first ``--other-users``. DSPy's response cache is off: every call reaches the
model. Per turn: wall seconds, LM calls, prompt tokens, prompt tokens resumed from a saved KV state (the engine's
prefix cache), completion tokens, retries and fallbacks; per LM call the same, by signature.

Each finished session is appended to ``--progress`` (JSON lines), and the results are rewritten from all of
them, so the run goes in chunks (``--time-limit``) and resumes where it stopped; other settings are refused
(``--fresh`` starts over). Writes bench/results/turn_cost.{md,json}.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import dspy
import numpy as np
from dspy.utils.callback import BaseCallback
from tqdm import tqdm

from afirs_dspy.artifacts.context import load_context
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.provenance import code_digest
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.sampling import development_cases
from afirs_dspy.evaluation.session import run_session
from afirs_dspy.utils.jsonl_file import append_line, read_lines
from afirs_dspy.lm import LlamaSettings, LMOptions, LocalEngines, make_lm
from afirs_dspy.lm.llama_engine import available_cores
from afirs_dspy.programs.registry import METHODS, build_program
from afirs_dspy.utils.tables import markdown_table
from results_files import RESULTS, write_results
from setups import SETUPS, Setup


class CallLog(BaseCallback):
    """One row per LM call: the turn and signature that made it, seconds, and the usage DSPy recorded."""

    def __init__(self, program: dspy.Module) -> None:
        self.program = program
        self.rows: list[dict] = []
        self.turn = 0
        self.step = ""
        self._open: dict[str, tuple[Any, float, int]] = {}

    def on_module_start(self, call_id, instance, inputs) -> None:
        if instance is self.program:
            self.turn += 1
        if isinstance(instance, dspy.Predict):
            self.step = instance.signature.__name__

    def on_lm_start(self, call_id, instance, inputs) -> None:
        self._open[call_id] = (instance, time.perf_counter(), len(instance.history))

    def on_lm_end(self, call_id, outputs, exception) -> None:
        lm, started, seen = self._open.pop(call_id)
        usage = lm.history[-1]["usage"] if len(lm.history) > seen else {}
        details = usage.get("prompt_tokens_details") or {}
        self.rows.append({"turn": self.turn, "step": self.step, "seconds": time.perf_counter() - started,
                          "prompt_tokens": usage.get("prompt_tokens", 0), "reused_tokens": details.get("cached_tokens") or 0,
                          "completion_tokens": usage.get("completion_tokens", 0), "failed": exception is not None})


def turn_rows(record: SessionRecord, calls: list[dict]) -> list[dict]:
    rows = []
    for turn in record.turns:
        mine = [c for c in calls if c["turn"] == turn.turn]
        rows.append({"turn": turn.turn, "seconds": turn.program_usage.seconds, "lm_calls": len(mine),
                     "prompt_tokens": sum(c["prompt_tokens"] for c in mine),
                     "reused_tokens": sum(c["reused_tokens"] for c in mine),
                     "completion_tokens": sum(c["completion_tokens"] for c in mine),
                     "action": turn.action, "accepted": turn.accepted,
                     "retries": sum(e.get("status") == "retried" for e in turn.trace),
                     "fallbacks": sum(e.get("status") == "fallback" for e in turn.trace)})
    return rows


def run_job(setup: Setup, method: str, case, context, lm: dspy.LM, turns: int, seed: int) -> dict:
    program = build_program(method, context, setup.config())
    log = CallLog(program)
    with setup.adapter_context(), dspy.context(callbacks=[*dspy.settings.callbacks, log]):
        record = run_session(program, AttributeSimulators(context, seed)(case), case, method, lm, max_turns=turns)
    return {"setup": setup.name, "method": method, "user": case.user, "turns": turn_rows(record, log.rows),
            "calls": log.rows, "code": code_digest()}


def prompt_speed(engines: LocalEngines, threads: int, text: str) -> float:
    """Prompt tokens per second for ``text`` on ``threads`` prompt threads (generation on the default), no
    saved KV states, one generated token."""
    options = LMOptions(cache=False, max_tokens=1, llama=LlamaSettings(n_threads_batch=threads, prefix_cache_mb=0))
    lm = make_lm(None, options=options, engines=engines)
    started = time.perf_counter()
    lm(text)
    return lm.history[-1]["usage"]["prompt_tokens"] / (time.perf_counter() - started)


def thread_check(rounds: int, catalog) -> dict:
    """Prompt speed with 1 and 2 prompt threads, interleaved; a first untimed call per count loads the model."""
    text = "Rank these films for a fan of zombie comedies:\n" + "\n".join(catalog.numbered(list(range(1, 41))))
    speeds: dict[int, list[float]] = {1: [], 2: []}
    load = os.getloadavg()
    with LocalEngines() as engines:
        for round_ in range(rounds + 1):
            for threads in speeds:
                # A new first token each time, so llama.cpp's reuse of the previous prompt does not apply.
                speed = prompt_speed(engines, threads, f"Request {round_}.{threads}. {text}")
                if round_:
                    speeds[threads].append(speed)
    return {"load average before": [round(x, 1) for x in load], "load average after": [round(x, 1) for x in os.getloadavg()],
            "rows": [{"prompt threads": t, "runs": len(s), "median prompt tok/s": round(statistics.median(s), 1),
                      "min": round(min(s), 1), "max": round(max(s), 1)} for t, s in speeds.items()]}


def turn_summary(sessions: list[dict]) -> dict:
    turns = [t for s in sessions for t in s["turns"]]
    seconds = [t["seconds"] for t in turns]

    def mean(key: str) -> float:
        return round(float(np.mean([t[key] for t in turns])), 1)

    return {"users": len(sessions), "turns": len(turns), "median s": round(statistics.median(seconds), 1),
            "p90 s": round(float(np.percentile(seconds, 90)), 1), "mean s": round(float(np.mean(seconds)), 1),
            "LM calls/turn": mean("lm_calls"), "prompt tok/turn": mean("prompt_tokens"),
            "reused tok/turn": mean("reused_tokens"), "completion tok/turn": mean("completion_tokens"),
            "accepted": sum(t["accepted"] for t in turns), "recommend": sum(t["action"] == "recommend" for t in turns),
            "retries": sum(t["retries"] for t in turns), "fallbacks": sum(t["fallbacks"] for t in turns)}


def by_step(sessions: list[dict]) -> list[dict]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for session in sessions:
        for call in session["calls"]:
            groups.setdefault((session["setup"], call["step"]), []).append(call)
    return [{"setup": setup, "step": step, "calls": len(rows),
             "prompt tok": round(float(np.mean([r["prompt_tokens"] for r in rows]))),
             "reused tok": round(float(np.mean([r["reused_tokens"] for r in rows]))),
             "completion tok": round(float(np.mean([r["completion_tokens"] for r in rows])), 1),
             "median s/call": round(statistics.median(r["seconds"] for r in rows), 1),
             "mean s/call": round(float(np.mean([r["seconds"] for r in rows])), 1)}
            for (setup, step), rows in sorted(groups.items())]


def report(args, settings: dict, sessions: list[dict], threads: dict | None, machine: dict) -> None:
    afirs = {name: {s["user"]: s for s in sessions if s["method"] == "afirs" and s["setup"] == name} for name in args.setups}
    paired = sorted(set.intersection(*(set(by_user) for by_user in afirs.values())))  # every setup finished: same turns
    comparison = [{"setup": name, **turn_summary([afirs[name][u] for u in paired])} for name in args.setups if paired]
    others = {}
    for s in sessions:
        if s["setup"] == "new":
            others.setdefault(s["method"], []).append(s)
    cost = [{"method": method, **turn_summary(rows)} for method, rows in sorted(others.items(), key=lambda kv: METHODS.index(kv[0]))]
    text = (
        "# Cost of a turn with the embedded model: AF-IRS's setups, and every method\n\n"
        f"`python bench/turn_cost.py {' '.join(sys.argv[1:])}` (last chunk): the first {args.turns} turns of seeded test "
        f"users of {args.dataset} (attribute simulator, seed {args.seed}); DSPy's response cache off; "
        f"setups (`bench/setups.py`): {'; '.join(f'{n}: {SETUPS[n].describe()}' for n in args.setups)}. "
        f"Tree: {machine['tree']}. Machine: {machine['platform']}, {machine['cpus']} CPUs ({machine['usable cores']} "
        f"this run could use: the LM's threads), load average "
        f"{machine['load average']} (1/5/15 min, at the last chunk's end: other jobs shared the CPU); "
        f"llama.cpp: `{machine['llama.cpp']}`.\n\n"
        f"## AF-IRS per turn, on the {len(paired)} users every setup finished\n\n"
        + (markdown_table(comparison) if comparison else "(no user finished under every setup yet)") + "\n\n"
        "\"reused tok\": prompt tokens resumed from a saved KV state instead of being evaluated; \"accepted\", "
        "\"recommend\": turns; retries and fallbacks: `guarded_call` steps in the turns' traces.\n\n"
        "## LM calls by signature, AF-IRS (per call)\n\n"
        + (markdown_table(by_step([afirs[n][u] for n in args.setups for u in paired])) if paired else "(none yet)") + "\n\n"
        "## Every method per turn (new setup; each row on its own users, the first of the same seeded sample)\n\n"
        + (markdown_table(cost) if cost else "(none yet)") + "\n"
        + ("\n## Prompt processing threads (one 40-item prompt, no saved states, interleaved; generation on 1 thread)\n\n"
           f"Load average {threads['load average before']} before, {threads['load average after']} after.\n\n"
           + markdown_table(threads["rows"]) + "\n" if threads else "")
    )
    write_results("turn_cost", {"settings": settings, "machine": machine, "afirs": comparison, "methods": cost,
                                "threads": threads, "sessions": sessions}, text, args.out)


def llama_build() -> str:
    """The CPU code llama.cpp runs (the variant chosen at run time, or the built-in one)."""
    from afirs_dspy.lm.cpu_backend import ensure_cpu_backend

    return ensure_cpu_backend().describe()


def users(dataset, args: argparse.Namespace) -> list:
    """The test users of the development slice, in its seeded order: AF-IRS's first, the other methods' first."""
    return development_cases(dataset, max(args.n_users, args.other_users), args.seed)


def measure(args, context, lm: dspy.LM, machine: dict, threads: dict | None = None) -> list[dict]:
    """Run the sessions ``args`` asks for that ``args.progress`` does not hold yet, then write the results."""
    started = time.perf_counter()
    settings = {"dataset": args.dataset, "turns": args.turns, "seed": args.seed,
                "setups": {n: SETUPS[n].describe() for n in args.setups}, "tree nodes": len(context.tree.nodes),
                "data key": context.dataset.report.get("data_key")}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    if args.fresh:
        args.progress.unlink(missing_ok=True)
    lines = read_lines(args.progress)
    if any(line["key"] != key for line in lines):
        sys.exit(f"error: {args.progress} holds sessions run with other settings; add --fresh to start over")
    if threads:
        append_line(args.progress, {"key": key, "threads": threads})
    else:
        threads = next((line["threads"] for line in reversed(lines) if "threads" in line), None)
    sessions = [line for line in lines if "user" in line]
    done = {(s["setup"], s["method"], s["user"]) for s in sessions}

    cases = users(context.dataset, args)
    names = list(args.setups)  # each user starts with the next setup, so load from other jobs falls on all alike
    jobs = [(SETUPS[name], "afirs", case) for index, case in enumerate(cases[: args.n_users]) if "afirs" in args.methods
            for name in names[index % len(names):] + names[: index % len(names)]]
    jobs += [(SETUPS["new"], method, case) for case in cases[: args.other_users] for method in args.methods
             if method != "afirs"]
    pending = [job for job in jobs if (job[0].name, job[1], job[2].user) not in done]
    print(f"{len(jobs) - len(pending)} of {len(jobs)} sessions already done; {len(pending)} to run", flush=True)
    for setup, method, case in tqdm(pending, desc="sessions", unit="session"):
        if args.time_limit is not None and time.perf_counter() - started > args.time_limit * 60:
            print(f"time limit reached; {args.progress} keeps the finished sessions, run again to continue")
            break
        session = {"key": key, **run_job(setup, method, case, context, lm, args.turns, args.seed)}
        append_line(args.progress, session)
        sessions.append(session)
    machine["load average"] = [round(x, 1) for x in os.getloadavg()]
    report(args, settings, sessions, threads, machine)
    return sessions


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--n-users", type=int, default=10, help="users for AF-IRS under every setup (default 10)")
    parser.add_argument("--other-users", type=int, default=3, help="users for every other method (default 3)")
    parser.add_argument("--methods", default=",".join(METHODS), type=lambda text: [m for m in text.split(",") if m],
                        help="comma-separated methods (default: all); afirs runs under every setup, the others under new")
    parser.add_argument("--turns", type=int, default=2, help="first turns of each session (default 2)")
    parser.add_argument("--setups", default=",".join(SETUPS), type=lambda text: [s for s in text.split(",") if s],
                        help=f"AF-IRS's setups to time, comma-separated (default all: {','.join(SETUPS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, help="minutes after which no new session starts (a chunk)")
    parser.add_argument("--thread-rounds", type=int, default=0, help="rounds of the 1-vs-2 prompt-thread check (0: skip)")
    parser.add_argument("--progress", type=Path, default=RESULTS / "turn_cost.sessions.jsonl",
                        help="finished sessions, one JSON line each (resumed from)")
    parser.add_argument("--fresh", action="store_true", help="discard --progress and start over")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for turn_cost.{md,json}")
    return parser


def main() -> None:
    parser = arguments()
    args = parser.parse_args()
    if unknown := [m for m in args.methods if m not in METHODS]:
        parser.error(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    if unknown := [s for s in args.setups if s not in SETUPS]:
        parser.error(f"unknown setups {unknown}; known: {', '.join(SETUPS)}")

    context = load_context(load_dataset(args.dataset))
    machine = {"tree": f"{len(context.tree.nodes)} nodes ({context.tree.meta.get('builder', 'builder not recorded')})",
               "platform": platform.platform(), "cpus": os.cpu_count(), "usable cores": available_cores(),
               "llama.cpp": llama_build()}
    threads = thread_check(args.thread_rounds, context.catalog) if args.thread_rounds else None
    with LocalEngines() as engines:
        measure(args, context, make_lm(None, options=LMOptions(cache=False), engines=engines), machine, threads)


if __name__ == "__main__":
    main()
