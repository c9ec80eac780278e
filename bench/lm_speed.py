"""Speed, memory and per-signature quality of the embedded local models, on this machine; llama.cpp builds compared.

    python bench/lm_speed.py                       # every registry model whose parts are installed
    python bench/lm_speed.py --models qwen2.5-coder-0.5b --cases 2
    python bench/lm_speed.py --build avx2=/tmp/avx2-build --variant haswell --models ""   # builds only

Builds first: the default model reads one 1,757-token prompt and generates 64 tokens on 1 and on 2 threads with
each build, every build once per round, alternating, each run in a fresh process: the installed llama-cpp-python
on the CPU variant it chooses, the same install forced to each ``--variant`` ($AFIRS_LLAMA_CPU_VARIANT), and each
``--build LABEL=DIR``, another llama-cpp-python installed with ``pip install --no-deps --no-cache-dir --target DIR
llama-cpp-python==0.3.36`` under other CMAKE_ARGS (``--no-cache-dir``: pip's wheel cache ignores CMAKE_ARGS and
would hand back the installed build). Each row names the CPU code llama.cpp ran (``cpu_backend``).

Then each model runs in a fresh subprocess (clean RSS). Per model: checksum time, llama.cpp load time, prompt and
generation tokens/s, peak RSS, then hand-made AF-IRS-like cases through dspy.Predict with JSONAdapter (the
JSON schema becomes a llama.cpp grammar) and with ChatAdapter (unconstrained, no JSON fallback), counting
parse successes, correct answers and seconds per call. Writes bench/results/lm_speed.json and .md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import dspy

from afirs_dspy.lm import DEFAULT_LOCAL_MODEL, LOCAL_MODELS, LMOptions, LocalEngines, LocalModelMissing, make_lm
from afirs_dspy.lm.cpu_backend import VARIANT_ENV, ensure_cpu_backend
from afirs_dspy.lm.llama_engine import LlamaCppRuntime, LlamaSettings, available_cores, default_threads
from afirs_dspy.lm.model_files import RegistryModelFile, model_cache_dir
from results_files import write_results

CANDIDATES = "\n".join([
    "1: Toy Story (Animation, Children, Comedy)", "2: Alien (Horror, Sci-Fi)", "3: The Notebook (Drama, Romance)",
    "4: Finding Nemo (Animation, Children)", "5: The Martian (Drama, Sci-Fi)", "6: Die Hard (Action, Thriller)",
    "7: Interstellar (Drama, Sci-Fi)", "8: The Shining (Horror)", "9: Notting Hill (Comedy, Romance)",
    "10: Mad Max: Fury Road (Action, Sci-Fi)",
])


class DecideNextAction(dspy.Signature):
    """You are a movie recommender talking with a user. Recommend now if the user's wish is specific enough to
    pick from the candidates; ask a clarifying question if it is too vague to choose."""

    conversation: str = dspy.InputField()
    candidates: str = dspy.InputField(desc="one per line: id: title (genres)")
    action: Literal["recommend", "ask"] = dspy.OutputField()


class SelectItems(dspy.Signature):
    """Pick the candidate movies that match what the user asked for."""

    request: str = dspy.InputField()
    candidates: str = dspy.InputField(desc="one per line: id: title (genres)")
    item_ids: list[int] = dspy.OutputField(desc="ids of every matching candidate, best first")


class SimulateUser(dspy.Signature):
    """You play a user looking for one movie, your target. Read the recommender's message. Accept only if it
    recommends your target movie; otherwise decline and say briefly what you want."""

    target_movie: str = dspy.InputField()
    recommender_message: str = dspy.InputField()
    accepts: bool = dspy.OutputField(desc="true only if your target movie is recommended")
    reply: str = dspy.OutputField(desc="one short sentence")


@dataclass(frozen=True)
class Case:
    inputs: dict
    is_correct: Callable[[dspy.Prediction], bool]


def f1_at_least(gold: set[int], threshold: float) -> Callable[[dspy.Prediction], bool]:
    def check(prediction: dspy.Prediction) -> bool:
        chosen = set(prediction.item_ids)
        hits = len(chosen & gold)
        return hits > 0 and 2 * hits / (len(chosen) + len(gold)) >= threshold
    return check


def field_is(name: str, expected: object) -> Callable[[dspy.Prediction], bool]:
    return lambda prediction: getattr(prediction, name) == expected


TASKS: dict[str, tuple[type[dspy.Signature], list[Case]]] = {
    "decide (Literal)": (DecideNextAction, [
        Case({"conversation": "User: Hi! I'd like to watch a movie tonight.", "candidates": CANDIDATES},
             field_is("action", "ask")),
        Case({"conversation": "User: I want a funny animated film to watch with my kids.", "candidates": CANDIDATES},
             field_is("action", "recommend")),
        Case({"conversation": "User: Recommend me something.", "candidates": CANDIDATES}, field_is("action", "ask")),
        Case({"conversation": "User: I loved Alien. I want another scary horror movie.", "candidates": CANDIDATES},
             field_is("action", "recommend")),
        Case({"conversation": "User: I'm bored. Any ideas?", "candidates": CANDIDATES}, field_is("action", "ask")),
        Case({"conversation": "User: A space sci-fi drama like Gravity, please.", "candidates": CANDIDATES},
             field_is("action", "recommend")),
    ]),
    "select (list[int])": (SelectItems, [
        Case({"request": "animated movies for children", "candidates": CANDIDATES}, f1_at_least({1, 4}, 0.66)),
        Case({"request": "horror movies", "candidates": CANDIDATES}, f1_at_least({2, 8}, 0.66)),
        Case({"request": "romantic movies", "candidates": CANDIDATES}, f1_at_least({3, 9}, 0.66)),
        Case({"request": "action movies", "candidates": CANDIDATES}, f1_at_least({6, 10}, 0.66)),
        Case({"request": "science fiction set in space", "candidates": CANDIDATES}, f1_at_least({5, 7, 2}, 0.5)),
        Case({"request": "a romantic comedy", "candidates": CANDIDATES}, f1_at_least({9}, 0.66)),
    ]),
    "simulate user (bool+str)": (SimulateUser, [
        Case({"target_movie": "Finding Nemo", "recommender_message": "You might enjoy Finding Nemo!"},
             field_is("accepts", True)),
        Case({"target_movie": "Finding Nemo", "recommender_message": "How about Die Hard?"},
             field_is("accepts", False)),
        Case({"target_movie": "The Shining", "recommender_message": "I recommend Interstellar and Alien."},
             field_is("accepts", False)),
        Case({"target_movie": "The Shining", "recommender_message": "Try The Shining, a horror classic."},
             field_is("accepts", True)),
        Case({"target_movie": "Notting Hill", "recommender_message": "Do you prefer comedies or dramas?"},
             field_is("accepts", False)),
        Case({"target_movie": "Mad Max: Fury Road", "recommender_message": "Mad Max: Fury Road fits you."},
             field_is("accepts", True)),
    ]),
}
ADAPTERS = {
    "JSONAdapter (schema grammar)": lambda: dspy.JSONAdapter(),
    "ChatAdapter (unconstrained)": lambda: dspy.ChatAdapter(use_json_adapter_fallback=False),
}
SPEED_PROMPT = "Count from 1 to 300, separated by commas. " + "Numbers are useful. " * 60
# 120 numbered candidate lines and a request: 1,757 tokens (issue #33 timed its builds on a 1,730-token prompt).
BUILD_PROMPT = "".join(f"{n}. {line}\n" for n, line in enumerate(CANDIDATES.splitlines() * 4, start=1)) * 3 + \
    "Pick the candidate movies that match what the user asked for: a funny animated film for my kids.\n"


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def raw_speed(path: Path, settings: LlamaSettings) -> dict:
    """llama.cpp alone: load, prompt evaluation and greedy generation speed."""
    started = time.perf_counter()
    llama = LlamaCppRuntime().load(path, settings)
    load_s = time.perf_counter() - started
    tokens = llama.tokenize(SPEED_PROMPT.encode())
    started = time.perf_counter()
    llama.eval(tokens)
    prompt_s = time.perf_counter() - started
    started = time.perf_counter()
    out = llama.create_completion(tokens, max_tokens=128, temperature=0.0)  # reuses the evaluated prompt
    generation_s = time.perf_counter() - started
    generated = out["usage"]["completion_tokens"]
    llama.close()
    return {"load_s": load_s, "prompt_tokens": len(tokens), "prompt_tok_per_s": len(tokens) / prompt_s,
            "generated_tokens": generated, "generation_tok_per_s": generated / generation_s}


def build_speed(threads: int) -> dict:
    """One build (this process's llama_cpp), one thread count: prompt reading and greedy generation, and the CPU
    code llama.cpp ran."""
    path = RegistryModelFile(LOCAL_MODELS[DEFAULT_LOCAL_MODEL], model_cache_dir()).resolve()
    llama = LlamaCppRuntime().load(path, LlamaSettings(n_threads=threads, n_threads_batch=threads, prefix_cache_mb=0))
    tokens = llama.tokenize(BUILD_PROMPT.encode())
    started, cpu = time.perf_counter(), time.process_time()
    llama.eval(tokens)
    prompt_s, prompt_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    out = llama.create_completion(tokens, max_tokens=64, temperature=0.0)  # reuses the evaluated prompt
    generation_s, generation_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    llama.close()
    generated = out["usage"]["completion_tokens"]
    # CPU seconds (all threads) as well as wall seconds: on a shared machine a run's wall time holds other jobs'
    # turns on the cores; one thread's CPU time does not (two threads also count their spin at each barrier).
    return {"prompt_tokens": len(tokens), "prompt_s": prompt_s, "prompt_cpu_s": prompt_cpu_s,
            "prompt_tok_per_s": len(tokens) / prompt_s, "generated_tokens": generated,
            "generation_s": generation_s, "generation_cpu_s": generation_cpu_s,
            "generation_tok_per_s": generated / generation_s, "cpu_backend": ensure_cpu_backend().describe()}


def compare_builds(builds: list[tuple[str, str, str]], rounds: int) -> list[dict]:
    """Every (label, PYTHONPATH folder, forced variant) at 1 and 2 threads, one after another in each round."""
    rows = []
    for round_ in range(rounds):
        for threads in (1, 2):
            for label, folder, variant in builds:
                env = {**os.environ, VARIANT_ENV: variant,
                       "PYTHONPATH": os.pathsep.join(p for p in (folder, os.environ.get("PYTHONPATH", "")) if p)}
                load = os.getloadavg()
                child = subprocess.run([sys.executable, __file__, "--build-run", str(threads)], env=env,
                                       check=True, capture_output=True, text=True)
                rows.append({"build": label, "threads": threads, "round": round_ + 1, "load_average_before": load,
                             **json.loads(child.stdout.strip().splitlines()[-1])})
                print(f"{label}, {threads} thread(s): prompt {rows[-1]['prompt_tok_per_s']:.1f} tok/s, generation "
                      f"{rows[-1]['generation_tok_per_s']:.1f} tok/s, load {load[0]:.2f}", file=sys.stderr, flush=True)
    return rows


def run_cases(lm: dspy.LM, adapter_name: str, cases_per_task: int) -> dict:
    results = {}
    for task, (signature, cases) in TASKS.items():
        parsed = correct = 0
        seconds, completion_tokens, answers = [], [], []
        first_output = next(iter(signature.output_fields))
        for case in cases[:cases_per_task]:
            started = time.perf_counter()
            try:
                with dspy.context(lm=lm, adapter=ADAPTERS[adapter_name]()):
                    prediction = dspy.Predict(signature)(**case.inputs)
                parsed += 1
                correct += bool(case.is_correct(prediction))
                answers.append(str(getattr(prediction, first_output)))
            except dspy.utils.exceptions.AdapterParseError:
                answers.append("(unparsed)")
            seconds.append(time.perf_counter() - started)
            completion_tokens.append(lm.history[-1]["usage"].get("completion_tokens") or 0)
        results[task] = {"calls": len(seconds), "parsed": parsed, "correct": correct,
                         "median_s": statistics.median(seconds), "mean_s": statistics.fmean(seconds),
                         "mean_completion_tokens": statistics.fmean(completion_tokens), "answers": answers}
    return results


def bench_one(name: str, cases_per_task: int) -> dict:
    settings = LlamaSettings()
    model_file = RegistryModelFile(LOCAL_MODELS[name], model_cache_dir())
    started = time.perf_counter()
    path = model_file.resolve()
    checksum_s = time.perf_counter() - started  # includes assembly on the very first run
    # Every thread count from 1 to all cores, twice, to show what the default (default_threads()) is chosen from.
    raw_runs = [{"threads": n, **raw_speed(path, LlamaSettings(n_threads=n))}
                for _ in range(2) for n in range(1, available_cores() + 1)]
    options = LMOptions(cache=False, max_tokens=256, llama=settings)
    with LocalEngines() as engines:
        lm = make_lm(f"local:{name}", options=options, engines=engines)
        lm.engine.load()
        calls = {adapter: run_cases(lm, adapter, cases_per_task) for adapter in ADAPTERS}
        rss = rss_mib("VmRSS")
    return {"model": name, "description": LOCAL_MODELS[name].description, "file_mib": path.stat().st_size / 2**20,
            "checksum_s": checksum_s, "engine_load_s": lm.engine.load_seconds, "raw_runs": raw_runs,
            "rss_mib": rss, "peak_rss_mib": rss_mib("VmHWM"), "n_threads": default_threads(), "n_ctx": settings.n_ctx,
            "dspy_calls": calls}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    from importlib.metadata import version
    return {"cpu": cpu, "cores_available": available_cores(), "memory_gib": round(memory_kib / 2**20, 1),
            "python": platform.python_version(), "dspy": version("dspy"),
            "llama_cpp_python": version("llama-cpp-python"), "load_average_at_start": os.getloadavg()}


def frequent(answers: list[str]) -> str:
    return ", ".join(f"`{answer}` x{count}" for answer, count in Counter(answers).most_common(2))


def build_lines(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    first = rows[0]
    lines = ["## llama.cpp builds, side by side", "",
             f"{DEFAULT_LOCAL_MODEL}: a {first['prompt_tokens']}-token prompt read, then {first['generated_tokens']} "
             "tokens generated greedily, on 1 and on 2 threads; each run in a fresh process, the builds alternating "
             "within each round. Load average (1 min) before each run.", "",
             "| build | CPU code llama.cpp ran | threads | round | prompt tok/s | prompt s (CPU s) | generation tok/s "
             "| generation s (CPU s) | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['build']} | {r['cpu_backend']} | {r['threads']} | {r['round']} | "
                     f"{r['prompt_tok_per_s']:.1f} | {r['prompt_s']:.1f} ({r['prompt_cpu_s']:.1f}) | "
                     f"{r['generation_tok_per_s']:.1f} | {r['generation_s']:.1f} ({r['generation_cpu_s']:.1f}) | "
                     f"{r['load_average_before'][0]:.2f} |")
    baseline = rows[-1]["build"]  # the last build given: the one the others are compared with
    lines += ["", f"Speed relative to {baseline} (median over rounds; CPU: by CPU seconds per token):", "",
              "| build | threads | prompt | prompt, CPU | generation | generation, CPU |", "|---|---|---|---|---|---|"]

    def per_token(label: str, threads: int, key: str) -> float:
        tokens = "prompt_tokens" if key.startswith("prompt") else "generated_tokens"
        return statistics.median(r[key] / r[tokens] for r in rows if (r["build"], r["threads"]) == (label, threads))

    for label in dict.fromkeys(r["build"] for r in rows):
        for threads in (1, 2):
            faster = [per_token(baseline, threads, key) / per_token(label, threads, key)
                      for key in ("prompt_s", "prompt_cpu_s", "generation_s", "generation_cpu_s")]
            lines.append(f"| {label} | {threads} | " + " | ".join(f"{x:.2f}×" for x in faster) + " |")
    return lines + [""]


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Embedded local LM: speed and quality", "",
        f"Machine: {m['cpu']}, {m['cores_available']} cores available, {m['memory_gib']} GiB RAM, no GPU; "
        f"Python {m['python']}, DSPy {m['dspy']}, llama-cpp-python {m['llama_cpp_python']}.",
        f"Load average at start {tuple(round(x, 2) for x in m['load_average_at_start'])}, at end "
        f"{tuple(round(x, 2) for x in report['load_average_at_end'])} (other work shared the CPU).",
        f"Command: `{report['command']}`", "",
        *build_lines(report["builds"]),
    ]
    if not report["models"]:
        return "\n".join(lines)
    lines += [
        "## Models (the installed build)", "",
        "| model | file MiB | SHA-256 check s | threads | llama load s | prompt tok/s (tokens) | generation tok/s "
        "(tokens) | RSS MiB (peak) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["models"]:
        for raw in r["raw_runs"]:
            lines.append(f"| {r['model']} | {r['file_mib']:.0f} | {r['checksum_s']:.1f} | {raw['threads']} | {raw['load_s']:.1f} | "
                         f"{raw['prompt_tok_per_s']:.1f} ({raw['prompt_tokens']}) | "
                         f"{raw['generation_tok_per_s']:.1f} ({raw['generated_tokens']}) | "
                         f"{r['rss_mib']:.0f} ({r['peak_rss_mib']:.0f}) |")
    lines += ["", "Generation is greedy after the evaluated prompt. RSS: after the DSPy calls below, engine loaded.", "",
              "DSPy calls (`dspy.Predict`, greedy, max_tokens 256, default threads, model loaded beforehand): "
              "parsed / correct of calls; seconds per call.",
              "", "| model | adapter | task | parsed | correct | median s | mean s | mean completion tokens | "
              "most frequent answers |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in report["models"]:
        for adapter, tasks in r["dspy_calls"].items():
            for task, t in tasks.items():
                lines.append(f"| {r['model']} | {adapter} | {task} | {t['parsed']}/{t['calls']} | "
                             f"{t['correct']}/{t['calls']} | {t['median_s']:.1f} | {t['mean_s']:.1f} | "
                             f"{t['mean_completion_tokens']:.0f} | {frequent(t['answers'])} |")
    return "\n".join(lines) + "\n"


def installed_models() -> list[str]:
    names = []
    for name, model in LOCAL_MODELS.items():
        try:
            RegistryModelFile(model, model_cache_dir()).check_available()
            names.append(name)
        except LocalModelMissing as missing:
            print(f"skipping {name}: {missing}", file=sys.stderr)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help='comma-separated registry names (default: all installed; "": none)')
    parser.add_argument("--cases", type=int, default=6, help="cases per task (default 6, the most)")
    parser.add_argument("--build", action="append", default=[], metavar="LABEL=DIR",
                        help="another llama-cpp-python installed in DIR (pip install --target), compared with the "
                             "installed one; the last is the ratios' baseline")
    parser.add_argument("--variant", action="append", default=[],
                        help="also run the installed build forced to this CPU variant (e.g. haswell)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the build comparison (default 2)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: bench one model, print JSON
    parser.add_argument("--build-run", type=int, help=argparse.SUPPRESS)  # child: one build at N threads
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench_one(args.one, args.cases)))
        return
    if args.build_run:
        print(json.dumps(build_speed(args.build_run)))
        return
    builds = [("installed", "", ""), *((f"installed, {v} forced", "", v) for v in args.variant),
              *((label, folder, "") for label, _, folder in (b.partition("=") for b in args.build))]
    report = {"machine": machine(), "command": " ".join(["python", *sys.argv]),
              "builds": compare_builds(builds, args.rounds), "models": []}
    for name in installed_models() if args.models is None else [n for n in args.models.split(",") if n]:
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, __file__, "--one", name, "--cases", str(args.cases)],
                               check=True, capture_output=True, text=True)
        report["models"].append(json.loads(child.stdout.strip().splitlines()[-1]))
    report["load_average_at_end"] = os.getloadavg()
    write_results("lm_speed", report, markdown(report))


if __name__ == "__main__":
    main()
