"""JSON answers with the embedded model: grammar on every token, grammar on the chosen token, or no grammar.

    python bench/json_decoding.py                 # every case, once per mode
    python bench/json_decoding.py --rounds 2      # twice

The programs' structured signatures (those ``program_adapter`` gives CompactJSONAdapter: signature_quality's
cases plus the default turn's ConfirmPreferences and DecideFromEvidence) through their own predictors, once per
``LlamaSettings.grammar`` mode, each mode on its own loaded engine, the modes' order rotating per case. Each case
is called twice per mode: the first call evaluates the prompt (the "call s" column), the second finds it in the
context and times generation alone ("generation"). Per mode: answers parsed on the first attempt, answers equal
to the every-token grammar's, completion tokens, seconds and process CPU seconds (CPU time is what the mode
costs; wall time also holds what other jobs took). The prefix check: a case's first call after another case of
the same signature resumes the signature's system message from the engine's saved KV states; its resumed
prompt tokens are compared with the system message's own tokens. Writes bench/results/json_decoding.{json,md}.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict

import dspy
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.lm import LlamaSettings, LMOptions, LocalEngines, make_lm
from afirs_dspy.lm.compact_adapter import CompactJSONAdapter, program_adapter
from afirs_dspy.lm.cpu_backend import ensure_cpu_backend
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.utils.tables import markdown_table
from afirs_dspy.signatures import ConfirmPreferences, DecideFromEvidence
from results_files import write_results
from signature_quality import CASES, Case, first_is, numbered

MODES = ("every-token", "chosen-token", "off")
EXTRA_CASES = [
    Case(ConfirmPreferences, {"user_responses": "a scary movie with zombies, but also funny",
                              "nodes": numbered(["Horror > zombies", "Comedy > funny", "Romance > love story",
                                                 "Horror > Horror", "Drama > sad"])},
         lambda p: set(p.selected) >= {1, 2} and 3 not in p.selected, "confirm: zombies + funny"),
    Case(ConfirmPreferences, {"user_responses": "an animated film for my kids",
                              "nodes": numbered(["Animation > Animation", "Children > kids", "Horror > gore",
                                                 "Action > explosions"])},
         lambda p: set(p.selected) >= {1, 2} and not set(p.selected) & {3, 4}, "confirm: animated + kids"),
    Case(ConfirmPreferences, {"user_responses": "something with space travel",
                              "nodes": numbered(["Sci-Fi > space", "Sci-Fi > aliens", "Western > cowboys"])},
         first_is(1), "confirm: space"),
    Case(DecideFromEvidence, {"conversation": "User: A zombie comedy, please.",
                              "items": ["Shaun of the Dead (2004)", "Zombieland (2009)", "Dead Snow (2009)"],
                              "evidence": "3 of 3 items carry every stated preference (zombies, comedy); none holds a dislike"},
         lambda p: p.action == "recommend", "evidence: all match → recommend"),
    Case(DecideFromEvidence, {"conversation": "User: Recommend me something.",
                              "items": ["Heat (1995)", "Amélie (2001)", "Alien (1979)"],
                              "evidence": "the user stated no preference yet"},
         lambda p: p.action == "ask", "evidence: nothing stated → ask"),
]


def json_cases() -> list[Case]:
    """The cases whose signature the programs answer in JSON (a grammar applies), grouped by signature."""
    cases = [c for c in [*CASES, *EXTRA_CASES] if isinstance(program_adapter(c.signature), CompactJSONAdapter)]
    return sorted(cases, key=lambda c: c.signature.__name__)


def timed_call(lm: dspy.LM, case: Case) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with dspy.context(lm=lm):
            prediction = predictor(case.signature)(**case.inputs)
        parsed, correct, answer = True, bool(case.check(prediction)), str(dict(prediction))
    except AdapterParseError:
        parsed, correct, answer = False, False, None
    usage = lm.history[-1]["usage"]
    return {"parsed": parsed, "correct": correct, "answer": answer, "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu, "prompt_tokens": usage.get("prompt_tokens") or 0,
            "reused_tokens": (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
            "completion_tokens": usage.get("completion_tokens") or 0}


def system_tokens(lm: dspy.LM, case: Case) -> int:
    """Tokens of the signature's system message as the chat template opens the prompt with it."""
    system = program_adapter(case.signature).format(case.signature, [], case.inputs)[0]["content"]
    return len(lm.engine.tokenize(f"<|im_start|>system\n{system}<|im_end|>\n"))


def run(rounds: int) -> dict:
    cases = json_cases()
    rows = []
    with LocalEngines() as engines:
        # one prompt thread: the modes differ in sampling only, and another job may hold the second core
        lms = {mode: make_lm(None, options=LMOptions(cache=False, llama=LlamaSettings(grammar=mode, n_threads_batch=1)),
                             engines=engines)
               for mode in MODES}
        for lm in lms.values():
            lm.engine.load()
        for round_ in range(rounds):
            for index, case in enumerate(cases):
                order = MODES[index % 3:] + MODES[:index % 3]
                for mode in order:
                    first, second = timed_call(lms[mode], case), timed_call(lms[mode], case)
                    rows.append({"round": round_, "case": case.label, "signature": case.signature.__name__,
                                 "mode": mode, "first": first, "second": second,
                                 "system_tokens": system_tokens(lms[mode], case),
                                 "load_average": os.getloadavg()[0]})
                    print(f"{mode:>12} {case.label}: {first['seconds']:.1f} s, generation {second['seconds']:.1f} s "
                          f"({second['completion_tokens']} tokens), load {rows[-1]['load_average']:.1f}", flush=True)
    return {"rows": rows, "cpu_backend": ensure_cpu_backend().describe()}


def summary(rows: list[dict]) -> list[dict]:
    reference = {(r["round"], r["case"]): r["second"]["answer"] for r in rows if r["mode"] == "every-token"}
    by_mode = defaultdict(list)
    for r in rows:
        by_mode[r["mode"]].append(r)
    table = []
    for mode in MODES:
        runs = by_mode[mode]
        generation = [r["second"] for r in runs]
        tokens = sum(g["completion_tokens"] for g in generation)
        table.append({
            "grammar": mode, "calls": len(runs),
            "parsed": f"{sum(g['parsed'] for g in generation)}/{len(runs)}",
            "correct": f"{sum(g['correct'] for g in generation)}/{len(runs)}",
            "same answer as every-token": f"{sum(r['second']['answer'] == reference[(r['round'], r['case'])] for r in runs)}/{len(runs)}",
            "completion tok/call": round(tokens / len(runs), 1),
            "generation s/call": round(statistics.fmean(g["seconds"] for g in generation), 2),
            "generation tok/s": round(tokens / sum(g["seconds"] for g in generation), 2),
            "generation CPU s/call": round(statistics.fmean(g["cpu_seconds"] for g in generation), 2),
            "CPU ms/token": round(1000 * sum(g["cpu_seconds"] for g in generation) / tokens, 1),
            "call s (prompt + generation)": round(statistics.fmean(r["first"]["seconds"] for r in runs), 2),
        })
    return table


def prefix_rows(rows: list[dict]) -> list[dict]:
    """Per signature: how much of the prompt a new case resumed, against the system message's size."""
    firsts = defaultdict(list)
    seen = set()
    for r in rows:
        key = (r["round"], r["mode"], r["signature"])
        if key in seen:  # a case after another of its signature on this engine
            firsts[r["signature"]].append(r)
        seen.add(key)
    return [{"signature": name, "calls": len(rs), "system message tokens": rs[0]["system_tokens"],
             "prompt tokens (mean)": round(statistics.fmean(r["first"]["prompt_tokens"] for r in rs)),
             "resumed tokens (min)": min(r["first"]["reused_tokens"] for r in rs),
             "resumed ≥ system message": f"{sum(r['first']['reused_tokens'] >= r['system_tokens'] for r in rs)}/{len(rs)}"}
            for name, rs in sorted(firsts.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    started = os.getloadavg()
    result = run(args.rounds)
    result |= {"load_average_at_start": started, "load_average_at_end": os.getloadavg(),
               "machine": platform.platform(), "command": f"python bench/json_decoding.py --rounds {args.rounds}"}
    result["summary"], result["prefix"] = summary(result["rows"]), prefix_rows(result["rows"])
    text = "\n".join([
        "# JSON answers: grammar on every token, on the chosen token, or none", "",
        f"`{result['command']}` on {result['machine']}; llama.cpp CPU backend: {result['cpu_backend']}; "
        f"load average {tuple(round(x, 2) for x in started)} at start, "
        f"{tuple(round(x, 2) for x in result['load_average_at_end'])} at end (other jobs shared the 2 cores).",
        f"{len(json_cases())} cases of the programs' JSON signatures, {args.rounds} round(s), greedy, the programs' own "
        "predictors (output-token budgets) and CompactJSONAdapter; 1 generation thread. \"generation\": the second "
        "call of a case, whose prompt is already in the context; \"call s\": the first, prompt included.", "",
        markdown_table(result["summary"]), "",
        "## Prefix cache: a signature's system message is evaluated once", "",
        "A case's first call after another case of the same signature, on the same engine: prompt tokens resumed "
        "from a saved KV state, against the tokens of the system message as the chat template opens the prompt.", "",
        markdown_table(result["prefix"]),
    ])
    write_results("json_decoding", result, text)


if __name__ == "__main__":
    main()
