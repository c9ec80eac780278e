"""Session preference extraction on hand-written requests, two preference trees side by side.

    python bench/extraction.py --tree old=bench/data/old_trees --tree new=artifacts [--datasets ml-latest-small,steam,beauty]
                               [--mode confirm|levelwise] [--limit N] [--lm …] [--api-base …]

Each ``--tree NAME=ROOT`` is an artifacts root holding ``<dataset>/tree/tree.json`` (``afirs-dspy
build-tree --artifacts-dir ROOT``) or ``tree.json.gz``: bench/data/old_trees holds the old single-category
builder's trees on today's data (its README says how they were made). The requests (bench/data/extraction_requests.json) were written by
hand, the way people ask, each with the attributes that count as correct. A request is a hit when an
extracted preference lies on a root path through an accepted attribute at depth ≥ 2: the attribute
itself, an item group under it, or a category/subcategory containing it. Per dataset and tree: the hit
share, LM calls and seconds per extraction, and the tree's shape targets (afirs_dspy.tree_shape).
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

from afirs_dspy.context import load_tree, node_vectors
from afirs_dspy.data import load_dataset
from afirs_dspy.embeddings import MiniLMEmbedder
from afirs_dspy.evaluation.significance import mcnemar_exact
from afirs_dspy.evaluation.usage import metered
from afirs_dspy.lm.backends import LocalEngines, make_lm
from afirs_dspy.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.programs.preference_extractor import EXTRACTION_MODES, SessionPreferenceExtractor
from afirs_dspy.reporting import markdown_table
from afirs_dspy.tree_shape import tree_shape
from lm_arguments import add_lm_arguments
from results_files import write_results

REQUESTS = Path(__file__).parent / "data" / "extraction_requests.json"
MIN_DEPTH = 2


def on_path(tree: PreferenceTree, node: int) -> set[int]:
    """``node`` and its ancestors below the root."""
    path = set()
    while tree.nodes[node].parent is not None:
        path.add(node)
        node = tree.nodes[node].parent
    return path


def is_hit(tree: PreferenceTree, preferences: list[int], accepted: set[str]) -> bool:
    targets = [n.id for n in tree.nodes if n.level == ATTRIBUTE_LEVEL and n.name in accepted]
    return any(tree.nodes[p].level >= MIN_DEPTH and (p in on_path(tree, t) or t in on_path(tree, p))
               for p in preferences for t in targets)


def most_similar_descent(tree: PreferenceTree, vectors: np.ndarray, query: np.ndarray) -> int:
    """The leaf reached by taking, at each level, the child most similar to the request: the descent
    an LM that always picks the first pre-ranked option would make."""
    node = tree.root.id
    while children := [child.id for child in tree.children(node)]:
        node = children[int(np.argmax(vectors[children] @ query))]
    return node


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
                                "most_similar_hit": is_hit(tree, [most_similar_descent(tree, vectors[label], query)], accepted),
                                "paths": [tree.path(p) for p in out.preferences], "lm_calls": usage.lm_calls,
                                "model_calls": usage.model_calls, "seconds": round(usage.seconds, 2)})
    return {label: {
        "requests": len(rows[label]),
        "hit_share": sum(r["hit"] for r in rows[label]) / len(rows[label]),
        "most_similar_descent_hit_share": sum(r["most_similar_hit"] for r in rows[label]) / len(rows[label]),
        "lm_calls_per_extraction": sum(r["lm_calls"] for r in rows[label]) / len(rows[label]),
        "seconds_per_extraction": sum(r["seconds"] for r in rows[label]) / len(rows[label]),
        "uncached_share": sum(r["model_calls"] == r["lm_calls"] for r in rows[label]) / len(rows[label]),
        "shape": tree_shape(trees[label], attributes),
        "built": {k: trees[label].meta.get("report", {}).get(k) for k in ("seconds", "lm_steps", "lm_fallbacks")},
        "builder": trees[label].meta.get("builder"),
        "per_request": rows[label],
    } for label in trees}


def paired_lines(results: dict) -> list[str]:
    """Per dataset, each tree after the first against the first on the same requests: hits gained, lost, McNemar p."""
    lines = []
    for name, by_tree in results.items():
        (first, base), *others = by_tree.items()
        for label, r in others:
            pairs = list(zip((x["hit"] for x in r["per_request"]), (x["hit"] for x in base["per_request"])))
            gained, lost = sum(a and not b for a, b in pairs), sum(b and not a for a, b in pairs)
            lines.append(f"{name}: {label} vs {first} on {len(pairs)} requests: hit by {label} only {gained}, "
                         f"by {first} only {lost}, exact McNemar p {mcnemar_exact(gained, lost):.3g}.")
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
              "most-similar descent, no LM": round(r["most_similar_descent_hit_share"], 3),
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
    ])
    name = "extraction" if args.mode == EXTRACTION_MODES[0] else f"extraction-{args.mode}"
    write_results(name, {"lm": lm, "mode": args.mode, "trees": roots, "paired": paired,
                         "results": results}, text)


if __name__ == "__main__":
    main()
