"""Figure 6: HR@50 of the candidates the recommender tool passes to the LM, three ways.

    python bench/candidate_hit_rate.py [--dataset ml-latest-small] [--n-sessions 40] [--lm …] [--api-base …] [--seed 0]

(a) plain SASRec top 50 (LLMCRS); (b) InteRecAgent-style: the LM maps the user's words to predefined
attributes, hard filter, SASRec top 50; (c) AF-IRS: preference extraction down the tree, then two-stage
filtering. On first turns only: the attribute simulator's openers for a seeded sample of the test split's
development slice (never the evidence users), the
same texts for all three. Later turns are not scored here: their user text depends on the dialogue one
method led, and scoring the others on AF-IRS's dialogue would favour AF-IRS; each method's own turns are
scored by `afirs-dspy eval` (its HR@50 columns). Writes bench/results/candidate_hit_rate.{md,json}.
"""
from __future__ import annotations

import argparse
import time

import dspy
from tqdm import tqdm

from afirs_dspy.artifacts.context import load_context
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.sampling import development_cases
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.programs.attribute_search import AttributeSearch
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.utils.tables import markdown_table
from lm_arguments import add_lm_arguments
from results_files import write_results

K = 50
WAYS = {"a": "SASRec top 50", "b": "attribute filter + SASRec", "c": "AF-IRS extraction + two-stage"}


class CandidateSources:
    """The three ways of choosing the 50 candidates for one user text and history."""

    def __init__(self, context):
        names, vectors = context.attributes()
        self.tool = context.tool
        self.search = AttributeSearch(context.tool, context.embedder, names, vectors, K)
        self.extract = SessionPreferenceExtractor(context.tree, context.embedder, context.node_vectors())

    def __call__(self, text: str, history: list[int]) -> dict[str, list[int]]:
        nodes = self.extract(user_responses=text).preferences
        return {"a": list(self.tool.recommend(history, None, k=K).items),
                "b": self.search(user_text=text, history=history).candidates,
                "c": list(self.tool.recommend(history, [str(n) for n in nodes], k=K).items)}


def users(dataset, args: argparse.Namespace) -> list[SessionCase]:
    """The first ``--n-sessions`` test users of the development slice, in the seed's order."""
    return development_cases(dataset, args.n_sessions, args.seed)


def first_turns(context, cases: list[SessionCase], seed: int) -> list[tuple[str, list[int], int]]:
    """(opener, history, target) of each case: the attribute simulator's first words."""
    simulators = AttributeSimulators(context, seed)
    return [(simulators(case).open(), list(case.history), case.target) for case in cases]


def hit_rates(sources: CandidateSources, cases) -> dict:
    hits, seconds = dict.fromkeys(WAYS, 0), 0.0
    for text, history, target in tqdm(cases, desc="first turns", unit="turn"):
        started = time.perf_counter()
        found = sources(text, history)
        seconds += time.perf_counter() - started
        for way, items in found.items():
            hits[way] += target in items
    return {"turns": len(cases), "hits": hits, "hit_rate": {way: hits[way] / max(len(cases), 1) for way in WAYS},
            "seconds_per_turn": seconds / max(len(cases), 1)}


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--n-sessions", type=int, default=40, help="Test users of the development slice.")
    add_lm_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main() -> None:
    args = arguments().parse_args()
    dataset = load_dataset(args.dataset)
    context = load_context(dataset)
    sources = CandidateSources(context)
    with LocalEngines() as engines:
        lm = make_lm(args.lm, args.api_base, engines=engines)
        with dspy.context(lm=lm):
            result = hit_rates(sources, first_turns(context, users(dataset, args), args.seed))
    row = {"turns": "first", "n": result["turns"], **{f"({w}) {WAYS[w]}": result["hit_rate"][w] for w in WAYS},
           "s/turn (all three)": round(result["seconds_per_turn"], 1)}
    text = "\n".join([
        f"# Figure 6: HR@{K} of the candidates passed to the LM ({args.dataset}, development test users, seed "
        f"{args.seed})", "",
        markdown_table([row]), "",
        f"LM: {lm.model}. First turns: the attribute simulator's opener for {args.n_sessions} sampled test users "
        "of the development slice, "
        "the same text for all three ways; later turns are scored per method by `afirs-dspy eval`.",
        "(b) maps the user's words to the 20 most similar predefined attributes shown to the LM; (c) descends the",
        "preference tree with the LM; both rank what passes with the same SASRec cosine as (a).",
    ])
    payload = {"dataset": args.dataset, "seed": args.seed, "lm": lm.model, "n_sessions": args.n_sessions,
               "first_turns": result}
    write_results("candidate_hit_rate", payload, text)


if __name__ == "__main__":
    main()
