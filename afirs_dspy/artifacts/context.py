"""Everything a program needs for one dataset, loaded from the artifacts directory (its layout:
``afirs_dspy.utils.paths``): the recommender (``afirs-dspy train-recsys``), the preference tree and the
cached embeddings beside it (``afirs-dspy build-tree``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.data import DATASETS, PreparedDataset
from afirs_dspy.text.embeddings import MiniLMEmbedder, TextEmbedder, cached_encode
from afirs_dspy.utils.paths import TREE_FILE, checkpoint_dir, tree_dir, tree_file
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.recsys.artifacts import load_tool
from afirs_dspy.recsys.checkpoint import CONFIG_FILE
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.tool import RecsysTool


NODE_VECTORS = "node_vectors.npz"


def node_vectors(tree: PreferenceTree, embedder: TextEmbedder, folder: Path | None = None) -> np.ndarray:
    """Row i: what node i means to a request (``PreferenceTree.meaning_vectors``); the name vectors are
    cached in ``folder`` (the tree's folder) beside the tree."""
    names = cached_encode([node.name for node in tree.nodes], embedder, folder / NODE_VECTORS if folder else None)
    return tree.meaning_vectors(names)


class MissingArtifact(Exception):
    """A tree or checkpoint that has to be built first; the message says with which command."""


def _no_tree(dataset_name: str, path: Path) -> MissingArtifact:
    return MissingArtifact(f"no preference tree at {path}; run `afirs-dspy build-tree --dataset {dataset_name}`")


def _no_checkpoint(dataset_name: str) -> MissingArtifact:
    return MissingArtifact(f"no recommender checkpoint for {dataset_name}; "
                           f"run `afirs-dspy train-recsys --dataset {dataset_name}`")


def check_artifacts_present(dataset_name: str, artifacts_root: str | os.PathLike | None = None) -> None:
    """MissingArtifact unless the tree and a complete checkpoint exist (a quick look before any work;
    ``load_context`` checks that they belong to the data)."""
    path = tree_file(dataset_name, artifacts_root)
    if not path.is_file():
        raise _no_tree(dataset_name, path)
    if not (checkpoint_dir(dataset_name, artifacts_root) / CONFIG_FILE).is_file():
        raise _no_checkpoint(dataset_name)


def load_tree(dataset: PreparedDataset, artifacts_root: str | os.PathLike | None = None) -> PreferenceTree:
    """The saved tree of ``dataset`` (tree.json, or a shipped tree.json.gz); MissingArtifact when absent
    or built on other data."""
    path = tree_file(dataset.name, artifacts_root)
    path = next((p for p in (path, path.with_name(f"{TREE_FILE}.gz")) if p.is_file()), path)
    if not path.is_file():
        raise _no_tree(dataset.name, path)
    try:
        tree = PreferenceTree.load(path)
    except ValueError as exc:
        raise MissingArtifact(str(exc)) from None
    built_on = tree.meta.get("dataset")
    built_on = built_on if isinstance(built_on, dict) else {}
    # Trees saved before data keys carry only the cache key; it still proves the same data.
    same = (built_on["data_key"] == dataset.data_key if "data_key" in built_on
            else built_on.get("cache_key") == dataset.report.get("cache_key"))
    if not same:
        raise MissingArtifact(
            f"the tree at {path} was built on other data (data key {str(built_on.get('data_key'))[:16]}, now "
            f"{str(dataset.data_key)[:16]}); rebuild it with `afirs-dspy build-tree --dataset {dataset.name} --force`"
        )
    return tree


@dataclass
class ProgramContext:
    dataset: PreparedDataset
    tree: PreferenceTree
    tool: RecsysTool
    embedder: TextEmbedder
    folder: Path  # where the tree and the embedding caches live
    catalog: Catalog = field(init=False)
    domain: str = field(init=False)

    def __post_init__(self):
        self.catalog = Catalog(self.dataset.items)
        self.domain = DATASETS[self.dataset.name].domain

    def node_vectors(self) -> np.ndarray:
        return node_vectors(self.tree, self.embedder, self.folder)

    def item_vectors(self) -> np.ndarray:
        """Row i - 1 is item i."""
        lines = [self.catalog.line(i) for i in range(1, len(self.catalog) + 1)]
        return cached_encode(lines, self.embedder, self.folder / "item_vectors.npz")

    def attributes(self) -> tuple[list[str], np.ndarray]:
        names = sorted({a for attrs in self.dataset.items.attributes for a in attrs})
        return names, cached_encode(names, self.embedder, self.folder / "attribute_vectors.npz")


def load_context(dataset: PreparedDataset, artifacts_root: str | os.PathLike | None = None,
                 embedder: TextEmbedder | None = None, device: str = "cpu") -> ProgramContext:
    tree = load_tree(dataset, artifacts_root)
    try:
        tool = load_tool(dataset, artifacts_root, ItemIndex.from_mapping(tree.item_mapping(), dataset.n_items), device)
    except FileNotFoundError:
        raise _no_checkpoint(dataset.name) from None
    except ValueError as exc:
        raise MissingArtifact(str(exc)) from None
    return ProgramContext(dataset, tree, tool, embedder or MiniLMEmbedder(), tree_dir(dataset.name, artifacts_root))
