"""Figure 6: HR@50 of the candidates the recommender tool passes to the LM, three ways.

    python bench/candidate_hit_rate.py [--dataset ml-latest-small] [--n-sessions 40] [--transcript T.jsonl]
                                       [--lm …] [--api-base …] [--seed 0]

(a) plain SASRec top 50 (LLMCRS); (b) InteRecAgent-style: the LM maps the user's words to predefined
attributes, hard filter, SASRec top 50; (c) AF-IRS: preference extraction down the tree, then two-stage
filtering. First turns: the attribute simulator's openers for a seeded sample of test users (the same
texts for all three). Turns 1–5: the user's words so far at every turn of an AF-IRS eval transcript
(``--transcript``, its ``--method`` sessions). Writes bench/results/candidate_hit_rate.{md,json,png}.
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict

import dspy
import matplotlib
from tqdm import tqdm

from afirs_dspy.context import load_context
from afirs_dspy.data import load_dataset
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.transcript import Transcript
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.programs.attribute_search import AttributeSearch
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.reporting import markdown_table
from lm_arguments import add_lm_arguments
from results_files import RESULTS, write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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


def first_turns(context, n: int, seed: int) -> list[tuple[int, str, list[int], int]]:
    simulators = AttributeSimulators(context, seed)
    return [(1, simulators(case).open(), list(case.history), case.target)
            for case in sample_cases(context.dataset, "test", n, seed)]


def transcript_turns(path: str, histories: dict[str, list[int]], method: str) -> list[tuple[int, str, list[int], int]]:
    turns = []
    for record in Transcript(path).latest().values():
        if record.method != method or record.status != "ok":
            continue
        said = [record.opener]
        for turn in record.turns:
            turns.append((turn.turn, "\n".join(said), histories[record.user], record.target))
            if turn.user_reply:
                said.append(turn.user_reply)
    return turns


def hit_rates(sources: CandidateSources, cases, desc: str) -> dict:
    hits, counts, seconds = defaultdict(lambda: defaultdict(int)), defaultdict(int), 0.0
    for turn, text, history, target in tqdm(cases, desc=desc, unit="turn"):
        started = time.perf_counter()
        found = sources(text, history)
        seconds += time.perf_counter() - started
        counts[turn] += 1
        for way, items in found.items():
            hits[way][turn] += target in items
    by_turn = {way: {t: hits[way][t] / counts[t] for t in sorted(counts)} for way in WAYS}
    overall = {way: sum(hits[way].values()) / sum(counts.values()) for way in WAYS}
    return {"turns": sum(counts.values()), "per_turn_counts": dict(counts), "by_turn": by_turn, "overall": overall,
            "seconds_per_turn": seconds / max(sum(counts.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--n-sessions", type=int, default=40)
    parser.add_argument("--transcript", default=None, help="An `afirs-dspy eval` transcript.jsonl of the test split (turns 1–5).")
    parser.add_argument("--method", default="afirs", help="Whose sessions of --transcript to take the turns from.")
    add_lm_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    context = load_context(dataset)
    sources = CandidateSources(context)
    histories = {str(u): list(h) for u, h in zip(dataset.test.user, dataset.test.history)}
    with LocalEngines() as engines:
        lm = make_lm(args.lm, args.api_base, engines=engines)
        with dspy.context(lm=lm):
            results = {"first turns": hit_rates(sources, first_turns(context, args.n_sessions, args.seed), "first turns")}
            if args.transcript:
                results["turns 1-5"] = hit_rates(sources, transcript_turns(args.transcript, histories, args.method), "turns 1-5")
    rows = [{"turns": scope, "n": r["turns"], **{f"({w}) {WAYS[w]}": r["overall"][w] for w in WAYS},
             "s/turn (all three)": round(r["seconds_per_turn"], 1)} for scope, r in results.items()]
    text = "\n".join([
        f"# Figure 6: HR@{K} of the candidates passed to the LM ({args.dataset}, test users, seed {args.seed})", "",
        markdown_table(rows), "",
        f"LM: {lm.model}. First turns: the attribute simulator's opener for {args.n_sessions} sampled test users.",
        f"Turns 1-5: the {args.method} sessions of {args.transcript or '(no transcript given)'}; per-turn rates in "
        "the JSON and the PNG.",
        "(b) maps the user's words to the 20 most similar predefined attributes shown to the LM; (c) descends the",
        "preference tree with the LM; both rank what passes with the same SASRec cosine as (a).",
    ])
    payload = {"dataset": args.dataset, "seed": args.seed, "lm": lm.model, "n_sessions": args.n_sessions,
               "transcript": args.transcript, "results": results}
    write_results("candidate_hit_rate", payload, text)
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.5), squeeze=False)
    for axis, (scope, r) in zip(axes[0], results.items()):
        for way in WAYS:
            turns = list(r["by_turn"][way])
            axis.plot(turns, [r["by_turn"][way][t] for t in turns], marker="o", label=f"({way}) {WAYS[way]}")
        axis.set(title=scope, xlabel="turn", ylabel=f"HR@{K}", ylim=(0, 1))
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "candidate_hit_rate.png", dpi=120)


if __name__ == "__main__":
    main()
