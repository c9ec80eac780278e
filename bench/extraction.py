"""Session preference extraction on hand-written requests, two preference trees side by side.

    python bench/extraction.py --tree old=bench/data/old_trees --tree new=artifacts [--datasets ml-latest-small,steam,beauty]
                               [--mode confirm|levelwise] [--limit N] [--lm …] [--api-base …]

Each ``--tree NAME=ROOT`` is an artifacts root holding ``<dataset>/tree/tree.json`` (``afirs-dspy
build-tree --artifacts-dir ROOT``) or ``tree.json.gz``: bench/data/old_trees holds the old single-category
builder's trees on today's data (its README says how they were made). The requests (bench/data/extraction_requests.json) were written by
hand, the way people ask, each with the attributes that count as correct. A request is a hit when an
extracted preference lies on a root path through an accepted attribute at depth ≥ 2: the attribute
itself, an item group under it, or a category/subcategory containing it. Per dataset and tree: the hit
share, LM calls and seconds per extraction, the tree's shape targets (afirs_dspy.domain.tree_shape), and how far
descents without the LM get: always the first of the pre-ranked children, or the right one of the first two.
Requests alternate between the trees so both see the same machine load. Writes bench/results/extraction.{md,json}
(the default mode) or extraction-<mode>.{md,json}.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import dspy
import numpy as np
from tqdm import tqdm

from afirs_dspy.artifacts.context import load_tree, node_vectors
from afirs_dspy.data import load_dataset
from afirs_dspy.text.embeddings import MiniLMEmbedder, top_k_similar
from afirs_dspy.evaluation.significance import mcnemar_exact
from afirs_dspy.evaluation.usage import metered
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.programs.preference_extractor import EXTRACTION_MODES, SessionPreferenceExtractor
from afirs_dspy.utils.tables import markdown_table
from afirs_dspy.domain.tree_shape import tree_shape
from lm_arguments import add_lm_arguments
from results_files import write_results

REQUESTS = Path(__file__).parent / "data" / "extraction_requests.json"
# The descents without the LM, by the children shown per level (``reaches``).
DESCENTS = {1: "most-similar descent, no LM", 2: "reachable among 2 / level"}
MIN_DEPTH = 2


def on_path(tree: PreferenceTree, node: int) -> set[int]:
    """``node`` and its ancestors below the root."""
    return set([node, *tree.ancestors(node)][:-1])


def accepted_attributes(tree: PreferenceTree, accepted: set[str]) -> list[int]:
    """The ids of the tree's attributes named in ``accepted``."""
    return [node.id for node in tree.attribute_nodes() if node.name in accepted]


def is_hit(tree: PreferenceTree, preferences: list[int], accepted: set[str]) -> bool:
    targets = accepted_attributes(tree, accepted)
    return any(tree.nodes[p].level >= MIN_DEPTH and (p in on_path(tree, t) or t in on_path(tree, p))
               for p in preferences for t in targets)


def reaches(tree: PreferenceTree, vectors: np.ndarray, query: np.ndarray, accepted: set[str], options: int) -> bool:
    """Whether a descent shown, at each level, the ``options`` children most similar to the request (the
    extractor's pre-ranking) reaches an accepted attribute when it always picks a child on the way to
    one. With 1 option: the descent of an LM that always takes the first; with more: what a chooser that
    never errs among them would hit, the most the tree's structure allows an LM shown that many."""
    leading = set().union(*(on_path(tree, t) for t in accepted_attributes(tree, accepted)))
    node = tree.root.id
    while tree.nodes[node].level < ATTRIBUTE_LEVEL:
        children = [child.id for child in tree.children(node)]
        shown = [children[i] for i in top_k_similar(query, vectors[children], options)]
        node = next((child for child in shown if child in leading), None)
        if node is None:
            return False
    return True


def run_dataset(name: str, requests: list[dict], trees: dict[str, PreferenceTree], embedder, mode: str) -> dict:
    attributes = {a for attrs in load_dataset(name).items.attributes for a in attrs}
    unknown = sorted({a for r in requests for a in r["accept"]} - attributes)
    if unknown:
        raise SystemExit(f"{name}: accepted attributes not in the data: {unknown}")
    vectors = {label: node_vectors(tree, embedder) for label, tree in trees.items()}
    extractors = {label: SessionPreferenceExtractor(tree, embedder, vectors[label], mode=mode)
                  for label, tree in trees.items()}
    queries = embedder.encode([request["text"] for request in requests])
    rows = {label: [] for label in trees}
    for request, query in zip(tqdm(requests, desc=name, unit="request"), queries):
        for label, extractor in extractors.items():
            with metered() as usage:
                out = extractor(user_responses=request["text"])
            tree = trees[label]
            accepted = set(request["accept"])
            rows[label].append({"text": request["text"], "hit": is_hit(tree, out.preferences, accepted),
                                **{f"reached_{k}": reaches(tree, vectors[label], query, accepted, k) for k in DESCENTS},
                                "paths": [tree.path(p) for p in out.preferences], "lm_calls": usage.lm_calls,
                                "model_calls": usage.model_calls, "seconds": round(usage.seconds, 2)})
    return {label: {
        "requests": len(rows[label]),
        "hit_share": sum(r["hit"] for r in rows[label]) / len(rows[label]),
        **{f"reached_{k}_share": sum(r[f"reached_{k}"] for r in rows[label]) / len(rows[label]) for k in DESCENTS},
        "lm_calls_per_extraction": sum(r["lm_calls"] for r in rows[label]) / len(rows[label]),
        "seconds_per_extraction": sum(r["seconds"] for r in rows[label]) / len(rows[label]),
        "uncached_share": sum(r["model_calls"] == r["lm_calls"] for r in rows[label]) / len(rows[label]),
        "shape": tree_shape(trees[label], attributes),
        "built": {k: trees[label].meta.get("report", {}).get(k) for k in ("seconds", "lm_steps", "lm_fallbacks")},
        "builder": trees[label].meta.get("builder"),
        "per_request": rows[label],
    } for label in trees}


def paired_lines(results: dict) -> list[str]:
    """Per dataset, for the hits and each descent without the LM, each tree after the first against the
    first on the same requests: requests only it gets, only the first gets, McNemar p."""
    measures = {"hit": "hit", **{f"reached_{k}": label for k, label in DESCENTS.items()}}
    lines = []
    for name, by_tree in results.items():
        (first, base), *others = by_tree.items()
        for label, r in others:
            for key, measure in measures.items():
                pairs = [(x[key], y[key]) for x, y in zip(r["per_request"], base["per_request"])]
                gained, lost = sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)
                lines.append(f"{name}, {measure}: {label} vs {first} on {len(pairs)} requests: {label} only {gained}, "
                             f"{first} only {lost}, exact McNemar p {mcnemar_exact(gained, lost):.3g}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=ROOT",
                        help="An artifacts root with <dataset>/tree/tree.json; give two or more.")
    parser.add_argument("--datasets", default="ml-latest-small,steam,beauty")
    parser.add_argument("--limit", type=int, default=None, help="The first N requests per dataset.")
    parser.add_argument("--mode", choices=EXTRACTION_MODES, default=EXTRACTION_MODES[0],
                        help="Extraction mode (AFIRSConfig.extraction; the first is the program's default).")
    add_lm_arguments(parser)
    args = parser.parse_args()
    roots = dict(spec.split("=", 1) for spec in args.tree)
    requests = json.loads(REQUESTS.read_text())
    embedder = MiniLMEmbedder()
    results = {}
    with LocalEngines() as engines:
        lm = make_lm(args.lm, args.api_base, engines=engines)
        with dspy.context(lm=lm):
            for name in args.datasets.split(","):
                dataset = load_dataset(name)
                trees = {label: load_tree(dataset, root) for label, root in roots.items()}
                results[name] = run_dataset(name, requests[name][: args.limit], trees, embedder, args.mode)
                report(results, args, roots, lm.model)  # after each dataset, so a stopped run keeps the finished ones


def report(results: dict, args: argparse.Namespace, roots: dict, lm: str) -> None:
    table = [{"dataset": name, "tree": label, "requests": r["requests"], "hit share": round(r["hit_share"], 3),
              **{column: round(r[f"reached_{k}_share"], 3) for k, column in DESCENTS.items()},
              "LM calls / extraction": round(r["lm_calls_per_extraction"], 2),
              "s / extraction": round(r["seconds_per_extraction"], 1),
              "categories": r["shape"]["categories"], "shape targets met": r["shape"]["targets_met"],
              "build s": r["built"]["seconds"]}
             for name, by_tree in results.items() for label, r in by_tree.items()]
    paired = paired_lines(results)
    text = "\n".join([
        "# Session preference extraction on hand-written requests", "",
        markdown_table(table), "", *paired, "",
        f"Extraction mode: {args.mode}. LM: {lm}. Trees: {', '.join(f'{k} = {v}' for k, v in roots.items())}. Requests: {REQUESTS.name} "
        "(hand-written; paraphrases, moods, negations, two wishes, vague words).",
        "Hit: an extracted preference on a root path through an accepted attribute, at depth >= 2 (the attribute, an",
        "item group under it, or a subcategory/category containing it). LM calls count cache hits too; s is wall time",
        "with other jobs sharing the 2-core CPU. Per-request paths and each tree's shape report are in the JSON.",
        "Most-similar descent: at each level the child most similar to the request (the extractor's pre-ranking,",
        "node vectors = name + mean of the names below), no LM: what an LM that always takes the first option would reach.",
        "Reachable among 2 / level: shown the 2 most similar children at each level, a chooser that never errs reaches an",
        "accepted attribute: the most the tree's structure allows an LM choosing between two.",
    ])
    name = "extraction" if args.mode == EXTRACTION_MODES[0] else f"extraction-{args.mode}"
    write_results(name, {"lm": lm, "mode": args.mode, "trees": roots, "paired": paired,
                         "results": results}, text)


if __name__ == "__main__":
    main()
