"""Per-signature quality and speed of an LM on AF-IRS's own signatures (hand-made cases).

    python bench/signature_quality.py                          # both embedded local models
    python bench/signature_quality.py --lm openai/gpt-4o-mini  # any dspy.LM model string
    python bench/signature_quality.py --lm local --adapter chat --adapter programs --only DecideAction

Each case runs one AF-IRS signature through the programs' own predictor (``programs.predictors``:
its output-token budget) with each ``--adapter``: ``programs``, the programs' own choice per signature
(``program_adapter``: compact JSON for structured outputs, field sections for plain ones), ``json``, the
CompactJSONAdapter for every signature (for the embedded models the schema becomes a llama.cpp grammar), and
``chat``, DSPy's default ChatAdapter (unconstrained field sections, a JSONAdapter re-send on a parse
failure), which the programs used before. A case counts as parsed when the first attempt parses, and as correct when its check holds. The cases are small and
hand-made: they rank models for the narrow choices AF-IRS asks of the LM, nothing more.
Writes bench/results/signature_quality.json and .md.
"""
from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from typing import Callable

import dspy
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.lm import LOCAL_MODELS, LMOptions, LocalEngines, make_lm
from afirs_dspy.lm.compact_adapter import CompactJSONAdapter
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.utils.tables import markdown_table
from results_files import write_results
from afirs_dspy.signatures import DecideAction, RefineCandidates, SelectNodes, SummarizePreferences, UserPreferences



@dataclass(frozen=True)
class Case:
    signature: type[dspy.Signature]
    inputs: dict
    check: Callable[[dspy.Prediction], bool]
    label: str


def first_is(*allowed: int) -> Callable[[dspy.Prediction], bool]:
    return lambda p: bool(p.selected) and p.selected[0] in allowed


MOVIES = [
    "Toy Story (1995) — Animation, Children, Comedy", "Alien (1979) — Horror, Sci-Fi",
    "The Notebook (2004) — Drama, Romance", "Dawn of the Dead (2004) — Horror, zombies",
    "Notting Hill (1999) — Comedy, Romance", "Die Hard (1988) — Action, Thriller",
    "Finding Nemo (2003) — Animation, Children", "Interstellar (2014) — Sci-Fi, space",
    "The Hangover (2009) — Comedy", "Shaun of the Dead (2004) — Comedy, Horror, zombies",
    "Amélie (2001) — Comedy, Romance, quirky", "Heat (1995) — Action, Crime",
]


def numbered(lines: list[str]) -> list[str]:
    return [f"{n}. {line}" for n, line in enumerate(lines, start=1)]


CASES = [
    Case(SelectNodes, {"user_responses": "I'd like a scary movie that keeps me on edge",
                       "nodes": numbered(["Genre > Comedy", "Genre > Horror", "Genre > Romance", "Genre > Documentary"])},
         first_is(2), "select: scary → Horror"),
    Case(SelectNodes, {"user_responses": "something animated my kids can watch",
                       "nodes": numbered(["Genre > Thriller", "Genre > Animation", "Genre > War", "Audience > Children"])},
         first_is(2, 4), "select: kids → Animation/Children"),
    Case(SelectNodes, {"user_responses": "a space adventure with aliens",
                       "nodes": numbered(["Genre > Western", "Genre > Musical", "Genre > Sci-Fi", "Genre > Crime"])},
         first_is(3), "select: space → Sci-Fi"),
    Case(SelectNodes, {"user_responses": "a co-op shooter to play with my friends",
                       "nodes": numbered(["Players > Single-player", "Players > Co-op", "Genre > Puzzle", "Genre > FPS", "Genre > Visual Novel"])},
         first_is(2, 4), "select: co-op shooter → Co-op/FPS"),
    Case(SelectNodes, {"user_responses": "a moisturizer for dry skin on my face",
                       "nodes": numbered(["Makeup > Nail Polish", "Skin Care > Creams & Moisturizers", "Hair Care > Shampoos", "Fragrance > Eau de Parfum"])},
         first_is(2), "select: dry skin → Moisturizers"),
    Case(SelectNodes, {"user_responses": "I love romantic comedies",
                       "nodes": numbered(["Genre", "Decade", "Country", "Studio"])},
         first_is(1), "select: top level → Genre"),
    Case(DecideAction, {"conversation": "User: I want an animated movie for my kids, like Pixar films.",
                        "items": ["Toy Story (1995)", "Finding Nemo (2003)", "Monsters, Inc. (2001)", "Up (2009)", "Cars (2006)"]},
         lambda p: p.action == "recommend", "decide: Pixar request + Pixar items → recommend"),
    Case(DecideAction, {"conversation": "User: Recommend me a movie.",
                        "items": ["Heat (1995)", "The Notebook (2004)", "Alien (1979)", "Amélie (2001)", "Cars (2006)"]},
         lambda p: p.action == "ask", "decide: vague request → ask"),
    Case(DecideAction, {"conversation": "User: A zombie horror film, please.",
                        "items": ["Notting Hill (1999)", "The Notebook (2004)", "Love Actually (2003)", "Amélie (2001)", "Pretty Woman (1990)"]},
         lambda p: p.action == "ask", "decide: horror request + romances → ask"),
    Case(DecideAction, {"conversation": "User: Sci-fi about space travel.\nRecommender: Something recent or classic?\nUser: Recent, after 2010.",
                        "items": ["Interstellar (2014)", "Gravity (2013)", "The Martian (2015)", "Arrival (2016)", "Passengers (2016)"]},
         lambda p: p.action == "recommend", "decide: specific + matching → recommend"),
    Case(DecideAction, {"conversation": "User: Something fun.",
                        "items": ["Heat (1995)", "Alien (1979)", "Schindler's List (1993)", "Se7en (1995)", "Psycho (1960)"]},
         lambda p: p.action == "ask", "decide: vague + unfitting → ask"),
    Case(RefineCandidates, {"preferences": UserPreferences(likes=["zombies", "comedy"]), "candidates": numbered(MOVIES), "k": 3},
         first_is(10, 4), "refine: zombie comedy → Shaun/Dawn first"),
    Case(RefineCandidates, {"preferences": UserPreferences(likes=["animation", "for children"]), "candidates": numbered(MOVIES), "k": 3},
         first_is(1, 7), "refine: kids animation → Toy Story/Nemo first"),
    Case(RefineCandidates, {"preferences": UserPreferences(likes=["romance"], dislikes=["drama"]), "candidates": numbered(MOVIES), "k": 3},
         first_is(5, 11), "refine: romance, no drama → Notting Hill/Amélie first"),
    Case(SummarizePreferences, {"conversation": "User: I want a horror movie but nothing with gore.\nRecommender: Old or new?\nUser: From the 80s."},
         lambda p: any("horror" in x.lower() for x in p.preferences.likes + p.preferences.constraints)
         and any("gore" in x.lower() for x in p.preferences.dislikes), "summarize: likes horror, dislikes gore"),
]


# None: the programs' own choice (``program_adapter``)
ADAPTERS: dict[str, Callable[[], dspy.Adapter] | None] = {"programs": None, "json": CompactJSONAdapter,
                                                          "chat": dspy.ChatAdapter}


def run_case(case: Case) -> dict:
    start = time.perf_counter()
    try:
        prediction = predictor(case.signature)(**case.inputs)
        parsed, correct = True, bool(case.check(prediction))
    except AdapterParseError:
        parsed, correct = False, False
    return {"case": case.label, "parsed": parsed, "correct": correct, "seconds": time.perf_counter() - start}


def evaluate(spec: str | None, adapter: str, cases: list[Case], engines: LocalEngines) -> dict:
    lm = make_lm(spec, options=LMOptions(cache=False), engines=engines)  # measure the model, not the cache
    rows = []
    with dspy.context(lm=lm, **({"adapter": ADAPTERS[adapter]()} if ADAPTERS[adapter] else {})):
        for case in cases:
            rows.append(run_case(case))
            print(f"  {rows[-1]}", flush=True)
    by_signature = {}
    for case, row in zip(cases, rows):
        by_signature.setdefault(case.signature.__name__, []).append(row)
    summary = {
        name: {"cases": len(r), "parsed": sum(x["parsed"] for x in r), "correct": sum(x["correct"] for x in r),
               "seconds_per_call": sum(x["seconds"] for x in r) / len(r)}
        for name, r in by_signature.items()
    }
    return {"lm": lm.model, "adapter": adapter, "cases": rows, "by_signature": summary,
            "correct": sum(r["correct"] for r in rows), "total": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", action="append", help="LM spec (repeatable); default: every embedded local model")
    parser.add_argument("--adapter", action="append", choices=list(ADAPTERS),
                        help="adapter (repeatable; default: programs, the programs' own)")
    parser.add_argument("--only", action="append",
                        help="run only this signature's cases (repeatable), e.g. DecideAction; prints, writes no results file")
    args = parser.parse_args()
    specs = args.lm or [f"local:{name}" for name in LOCAL_MODELS]
    cases = [c for c in CASES if not args.only or c.signature.__name__ in args.only]
    results = []
    with LocalEngines() as engines:
        for spec in specs:
            for adapter in args.adapter or ["programs"]:
                print(f"{spec}, {adapter} adapter:", flush=True)
                results.append(evaluate(spec, adapter, cases, engines))
    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine()}
    rows = [
        {"lm": r["lm"], "adapter": r["adapter"], "signature": name, "cases": s["cases"], "parsed": s["parsed"], "correct": s["correct"],
         "s/call": round(s["seconds_per_call"], 1)}
        for r in results for name, s in r["by_signature"].items()
    ]
    totals = [{"lm": r["lm"], "adapter": r["adapter"], "correct": f"{r['correct']}/{r['total']}",
               "s/call": round(sum(c["seconds"] for c in r["cases"]) / r["total"], 1)} for r in results]
    text = (f"# AF-IRS signatures: quality and speed per LM\n\nMachine: {machine['platform']}, "
            f"{machine['processor']}. Cases: `bench/signature_quality.py`.\n\n"
            + markdown_table(totals) + "\n\n" + markdown_table(rows) + "\n")
    if args.only:
        print(text)
    else:
        write_results("signature_quality", {"machine": machine, "results": results}, text)


if __name__ == "__main__":
    main()
