"""``afirs-dspy build-tree`` and ``afirs-dspy extract``: the preference tree and what a text maps to."""
from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict

import click
import dspy
import numpy as np

from afirs_dspy.cli import checks
from afirs_dspy.cli.lm_options import lm_options
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.artifacts.context import MissingArtifact, load_tree, node_vectors
from afirs_dspy.data import DATASETS
from afirs_dspy.text.embeddings import MiniLMEmbedder
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.domain.preference_tree import LEVEL_NAMES
from afirs_dspy.programs.preference_extractor import EXTRACTION_MODES, SessionPreferenceExtractor
from afirs_dspy.programs.tree_builder import PreferenceTreeBuilder, TreeBuildConfig
from afirs_dspy.programs.tree_steps import StepLog
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.utils.paths import TREE_FILE, tree_dir
from afirs_dspy.domain.tree_shape import tree_shape

ARTIFACTS_HELP = "Artifacts root. Default: $AFIRS_ARTIFACTS_DIR or ./artifacts."
STEP_LOG = "build-steps.jsonl"  # beside tree.json: the LM steps of a build not yet saved


def _tree_or_exit(data, artifacts_dir):
    try:
        return load_tree(data, artifacts_dir)
    except MissingArtifact as exc:
        raise click.ClickException(str(exc)) from None


@click.command("build-tree")
@dataset_options
@lm_options
@click.option("--artifacts-dir", default=None, help=ARTIFACTS_HELP)
@click.option("--force", is_flag=True, help="Rebuild even when a tree for this data exists.")
@click.option("--fresh", is_flag=True, help="Discard the LM steps kept from an interrupted build of the same settings.")
@click.option("--categories", type=click.IntRange(min=2), default=TreeBuildConfig.n_categories, show_default=True,
              help="Broad categories to cluster the anchors into (more when one would hold over half).")
@click.option("--anchors", type=click.IntRange(min=0), default=TreeBuildConfig.anchors, show_default=True,
              help="Most frequent attributes (genres, product categories) the categories are made of, each with "
                   "the attributes its items share as a subcategory; 0: similarity clusters of all attributes.")
@click.option("--anchor-min-share", type=click.FloatRange(0, 1), default=TreeBuildConfig.anchor_min_share,
              show_default=True, help="Share of the items an anchor must be carried by.")
@click.option("--cooccurrence-weight", type=click.FloatRange(0, 1), default=TreeBuildConfig.cooccurrence_weight,
              show_default=True, help="Share of item co-occurrence (vs. sentence embedding) in attribute similarity.")
@click.option("--misfit-window", type=click.IntRange(min=0), default=TreeBuildConfig.misfit_window, show_default=True,
              help="Least fitting attributes per category the LM checks for misfits (0: no checks; the "
                   "embedded 1.5B model calls nearly all of them misfits).")
@click.option("--lm-subcategory-names", is_flag=True,
              help="Let the LM name the subcategories (one call per category) instead of their own attributes.")
@click.option("--max-group-calls", type=click.IntRange(min=0), default=TreeBuildConfig.max_group_calls,
              show_default=True, help="Attributes whose items get named item groups (largest first).")
@click.option("--min-items-to-group", type=click.IntRange(min=2), default=TreeBuildConfig.min_items_to_group,
              show_default=True, help="Only attributes with at least this many items get item groups.")
@click.option("--seed", type=int, default=TreeBuildConfig.seed, show_default=True, help="Seed of the co-occurrence SVD.")
def build_tree_command(data: DatasetSpec, lm, artifacts_dir, force, fresh, categories, anchors, anchor_min_share,
                       cooccurrence_weight, misfit_window, lm_subcategory_names, max_group_calls, min_items_to_group, seed) -> None:
    """Build the dataset's preference tree and save it as JSON (paper 4.1.1): the most frequent
    attributes (genres, product categories) are anchors, each with the attributes its items share as a
    subcategory; similar anchors form the categories (named by the LM, which may also move misfits); the
    largest attributes' items are clustered and named by the LM. An interrupted build resumes its LM steps."""
    dataset = data.load()
    folder = tree_dir(dataset.name, artifacts_dir)
    checks.writable_folder(folder, "--artifacts-dir")  # fail in a second, not after the LM steps
    if not force:
        try:
            tree = load_tree(dataset, artifacts_dir)
        except MissingArtifact:
            pass
        else:
            click.echo(f"{folder / TREE_FILE} exists for this data ({len(tree.nodes)} nodes); --force rebuilds it")
            echo_next()
            return
    config = TreeBuildConfig(n_categories=categories, anchors=anchors, anchor_min_share=anchor_min_share,
                             cooccurrence_weight=cooccurrence_weight,
                             misfit_window=misfit_window, lm_subcategory_names=lm_subcategory_names,
                             max_group_calls=max_group_calls,
                             min_items_to_group=min_items_to_group, seed=seed)
    embedder = MiniLMEmbedder()
    popularity = PopularityRanker.from_sequences(list(dataset.train.sequence), dataset.n_items).counts
    model = lm()
    log_path = folder / STEP_LOG
    if fresh:
        log_path.unlink(missing_ok=True)
    steps = StepLog(log_path, {"data_key": dataset.data_key, "lm": model.model, "config": asdict(config)})
    if steps.done:
        click.echo(f"resuming: {len(steps.done)} LM steps kept in {log_path} (--fresh starts over)")
    started = time.perf_counter()
    with dspy.context(lm=model), lm_failures_explained(model):
        built = PreferenceTreeBuilder(embedder, config)(
            items=dataset.items, domain=DATASETS[dataset.name].domain, popularity=popularity, steps=steps
        )
    tree = built.tree
    attributes = {a for attrs in dataset.items.attributes for a in attrs}
    report = {**built.report, "seconds": round(time.perf_counter() - started, 1), "shape": tree_shape(tree, attributes)}
    tree.meta.update(dataset={"name": dataset.name, "data_key": dataset.data_key}, lm=model.model, report=report)
    tree.save(folder / TREE_FILE)
    steps.discard()
    node_vectors(tree, embedder, folder)
    shown = {k: v for k, v in report.items() if k != "missing_attributes"}
    shown["missing_attributes"] = len(report["missing_attributes"])
    click.echo(json.dumps(shown, indent=1))
    click.echo(f"shape targets {'met' if report['shape']['targets_met'] else 'NOT met'}; saved {folder / TREE_FILE}")
    echo_next()


@click.command("extract")
@dataset_options
@lm_options
@click.option("--artifacts-dir", default=None, help=ARTIFACTS_HELP)
@click.option("--top-children", type=click.IntRange(min=1), default=8, show_default=True,
              help="levelwise: nodes shown to the LM per level, pre-ranked by similarity to the text.")
@click.option("--max-per-level", type=click.IntRange(min=1), default=1, show_default=True,
              help="levelwise: nodes the LM may pick per level.")
@click.option("--extraction", type=click.Choice(EXTRACTION_MODES), default=EXTRACTION_MODES[0], show_default=True,
              help="confirm: similar attributes proposed per phrase, one LM call keeps those asked for; "
                   "levelwise: the LM descends the tree level by level (the paper's eq. 1).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (levels, preferences, trace) instead of text.")
@click.argument("text")
def extract_command(data: DatasetSpec, lm, artifacts_dir, top_children, max_per_level, extraction, as_json,
                    text) -> None:
    """Map TEXT to the preference tree (paper eq. 1–2) and print the full path picked at each level."""
    dataset = data.load()
    tree = _tree_or_exit(dataset, artifacts_dir)
    embedder = MiniLMEmbedder()
    vectors = node_vectors(tree, embedder, tree_dir(dataset.name, artifacts_dir))
    extractor = SessionPreferenceExtractor(tree, embedder, vectors, top_children, max_per_level, extraction)
    model = lm()
    with dspy.context(lm=model), lm_failures_explained(model):
        out = extractor(user_responses=text)

    def describe(node_id: int) -> dict:
        return {"id": node_id, "path": tree.path(node_id), "items": int(len(tree.node_items(node_id)))}

    matching = functools.reduce(np.intersect1d, [tree.node_items(n) for n in out.preferences]) if out.preferences else None
    if not as_json:
        for depth, level in enumerate(out.levels, start=1):
            for node in level:
                click.echo(f"level {depth} ({LEVEL_NAMES[depth]}): {tree.path(node)}  [{len(tree.node_items(node))} items]")
        if not out.levels:
            click.echo("no node picked at level 1")
        click.echo(f"items matching every preference: {'-' if matching is None else len(matching)}")
        return
    click.echo(json.dumps({
        "text": text,
        "levels": [[describe(n) for n in level] for level in out.levels],
        "preferences": [describe(n) for n in out.preferences],
        "items_matching_all": None if matching is None else len(matching),
        "trace": out.trace,
    }, indent=1))
