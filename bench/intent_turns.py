"""Does one AF-IRS turn keep a request's intent? Hand-written first turns, each with the attributes a fitting
film must hold (issue 15: "a scary movie with zombies, but also funny" should bring a Horror + Comedy film).

    python bench/intent_turns.py [--setups today,new] [--lm …] [--api-base …]

Each request of bench/data/intent_turns.json is one real turn (DSPy's cache off) of AF-IRS under each setup of
bench/setups.py ("today": the stages and adapter before issues 15/17; "new": the defaults), with the same four-film
history. Per turn: the action, how many of the 10 items the turn shows (its recommendation, or the refined 10 it
asked about) hold every attribute in ``fits``, whether a recommendation holds one, the session preferences'
tree paths, LM calls and seconds. Writes bench/results/intent_turns.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import dspy

from afirs_dspy.artifacts.context import load_context
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.usage import metered
from afirs_dspy.lm import LMOptions, LocalEngines, make_lm
from afirs_dspy.programs.registry import build_program
from afirs_dspy.utils.tables import markdown_table
from lm_arguments import add_lm_arguments
from results_files import write_results
from setups import SETUPS

REQUESTS = Path(__file__).parent / "data" / "intent_turns.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default="today,new", help=f"Comma-separated, from {', '.join(SETUPS)}.")
    add_lm_arguments(parser)
    args = parser.parse_args()
    spec = json.loads(REQUESTS.read_text())
    context = load_context(load_dataset(spec["dataset"]))
    catalog = context.catalog
    history = [catalog.match_title(title) for title in spec["history"]]
    if None in history:
        raise SystemExit(f"{REQUESTS}: a history title is not in the catalog: {spec['history']}")
    attributes = dict(zip(context.dataset.items.idx.astype(int), context.dataset.items.attributes))
    rows, turns = [], []
    with LocalEngines() as engines:
        lm = make_lm(args.lm, api_base=args.api_base, options=LMOptions(cache=False), engines=engines)
        for name in args.setups.split(","):
            setup = SETUPS[name]
            program = build_program("afirs", context, setup.config())
            for request in spec["requests"]:
                fits = set(request["fits"])
                started = time.perf_counter()
                with dspy.context(lm=lm), setup.adapter_context(), metered() as usage:
                    turn = program(dialogue=[{"role": "user", "content": request["text"]}], history=history)
                seconds = time.perf_counter() - started
                shown = list(turn["items"]) if turn.action == "recommend" else list(turn.preselected)
                fitting = [i for i in shown if fits <= set(attributes[i])]
                turns.append({"setup": name, "request": request["text"], "fits": sorted(fits), "action": turn.action,
                              "shown": [catalog.titles[i] for i in shown], "fitting": [catalog.titles[i] for i in fitting],
                              "preferences": list(turn.preferences), "question": turn.question,
                              "lm_calls": usage.lm_calls, "seconds": round(seconds, 1)})
                print(json.dumps(turns[-1])[:400], flush=True)
            mine = [t for t in turns if t["setup"] == name]
            rows.append({
                "setup": name, "requests": len(mine),
                "turns with a fitting item among the 10": sum(bool(t["fitting"]) for t in mine),
                "fitting items of 10 (mean)": sum(len(t["fitting"]) for t in mine) / len(mine),
                "recommended": sum(t["action"] == "recommend" for t in mine),
                "recommended with a fitting item": sum(t["action"] == "recommend" and bool(t["fitting"]) for t in mine),
                "LM calls (mean)": sum(t["lm_calls"] for t in mine) / len(mine),
                "seconds (mean)": sum(t["seconds"] for t in mine) / len(mine),
            })
    lines = ["# Intent kept in one turn (issue 15)", "",
             f"{spec['dataset']}, history: {', '.join(spec['history'])}; LM {args.lm or 'embedded (local)'}, "
             "cache off; setups: bench/setups.py.", "", markdown_table(rows, list(rows[0])), "",
             "| setup | request | action | fitting of 10 | first 3 shown | preferences |", "| --- | --- | --- | ---: | --- | --- |"]
    lines += [f"| {t['setup']} | {t['request']} | {t['action']} | {len(t['fitting'])} | {'; '.join(t['shown'][:3])} | "
              f"{'; '.join(t['preferences'])} |" for t in turns]
    write_results("intent_turns", {"settings": vars(args), "history": spec["history"], "summary": rows, "turns": turns},
                  "\n".join(lines))


if __name__ == "__main__":
    main()
