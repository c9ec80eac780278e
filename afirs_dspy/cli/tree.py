"""``afirs-dspy build-tree`` and ``afirs-dspy extract``: the preference tree and what a text maps to."""
from __future__ import annotations

import functools
import json

import click
import dspy
import numpy as np

from afirs_dspy.cli.compile import compile_command
from afirs_dspy.cli.lm_options import lm_options
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.context import MissingArtifact, load_tree, node_vectors, tree_dir
from afirs_dspy.data import DATASETS
from afirs_dspy.embeddings import MiniLMEmbedder
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.programs.tree_builder import PreferenceTreeBuilder, TreeBuildConfig
from afirs_dspy.recsys.popularity import PopularityRanker

ARTIFACTS_HELP = "Artifacts root. Default: $AFIRS_ARTIFACTS_DIR or ./artifacts."


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
@click.option("--attributes-per-call", type=click.IntRange(min=2), default=TreeBuildConfig.attributes_per_call,
              show_default=True, help="Attributes per clustering call.")
@click.option("--max-llm-attributes", type=click.IntRange(min=0), default=TreeBuildConfig.max_llm_attributes,
              show_default=True, help="The most frequent attributes clustered by the LM; the rest join the most similar subcategory.")
@click.option("--max-group-calls", type=click.IntRange(min=0), default=TreeBuildConfig.max_group_calls,
              show_default=True, help="Attributes whose items the LM groups into finer subcategories (largest first).")
@click.option("--min-items-to-group", type=click.IntRange(min=2), default=TreeBuildConfig.min_items_to_group,
              show_default=True, help="Only attributes with at least this many items get item groups.")
def build_tree_command(data: DatasetSpec, lm, artifacts_dir, force, attributes_per_call, max_llm_attributes,
                       max_group_calls, min_items_to_group) -> None:
    """Build the dataset's preference tree with the LM (paper 4.1.1) and save it as JSON."""
    dataset = data.load()
    folder = tree_dir(dataset.name, artifacts_dir)
    if not force:
        try:
            tree = load_tree(dataset, artifacts_dir)
        except MissingArtifact:
            pass
        else:
            click.echo(f"{folder / 'tree.json'} exists for this data ({len(tree.nodes)} nodes); --force rebuilds it")
            echo_next(compile_command)
            return
    config = TreeBuildConfig(attributes_per_call, max_llm_attributes, min_items_to_group=min_items_to_group,
                             max_group_calls=max_group_calls)
    embedder = MiniLMEmbedder()
    popularity = PopularityRanker.from_sequences(list(dataset.train.sequence), dataset.n_items).counts
    model = lm()
    with dspy.context(lm=model), lm_failures_explained(model):
        built = PreferenceTreeBuilder(embedder, config)(
            items=dataset.items, domain=DATASETS[dataset.name].domain, popularity=popularity
        )
    tree = built.tree
    tree.meta.update(dataset={"name": dataset.name, "data_key": dataset.data_key}, lm=model.model,
                     report=built.report)
    tree.save(folder / "tree.json")
    node_vectors(tree, embedder, folder)
    report = {k: v for k, v in built.report.items() if k != "missing_attributes"}
    report["missing_attributes"] = len(built.report["missing_attributes"])
    click.echo(json.dumps(report, indent=1))
    click.echo(f"saved {folder / 'tree.json'}")
    echo_next(compile_command)


@click.command("extract")
@dataset_options
@lm_options
@click.option("--artifacts-dir", default=None, help=ARTIFACTS_HELP)
@click.option("--top-children", type=click.IntRange(min=1), default=8, show_default=True,
              help="Nodes shown to the LM per level, pre-ranked by similarity to the text.")
@click.option("--max-per-level", type=click.IntRange(min=1), default=1, show_default=True,
              help="Nodes the LM may pick per level.")
@click.argument("text")
def extract_command(data: DatasetSpec, lm, artifacts_dir, top_children, max_per_level, text) -> None:
    """Map TEXT down the preference tree (paper eq. 1–2) and print the picked nodes per level as JSON."""
    dataset = data.load()
    tree = _tree_or_exit(dataset, artifacts_dir)
    embedder = MiniLMEmbedder()
    vectors = node_vectors(tree, embedder, tree_dir(dataset.name, artifacts_dir))
    extractor = SessionPreferenceExtractor(tree, embedder, vectors, top_children, max_per_level)
    model = lm()
    with dspy.context(lm=model), lm_failures_explained(model):
        out = extractor(user_responses=text)

    def describe(node_id: int) -> dict:
        return {"id": node_id, "path": tree.path(node_id), "items": int(len(tree.node_items(node_id)))}

    matching = functools.reduce(np.intersect1d, [tree.node_items(n) for n in out.preferences]) if out.preferences else None
    click.echo(json.dumps({
        "text": text,
        "levels": [[describe(n) for n in level] for level in out.levels],
        "preferences": [describe(n) for n in out.preferences],
        "items_matching_all": None if matching is None else len(matching),
        "trace": out.trace,
    }, indent=1))
