"""The hierarchical preference tree (paper section 4.1.1) as a plain, saveable data structure.

Levels: 0 root, 1 broad category, 2 subcategory, 3 attribute (the dataset's own), 4 item group
(finer subcategories of an attribute's items). An attribute node carries every item that has
the attribute; an item group carries a subset of its parent's items. The items of any node are
the union over its subtree.
"""
from __future__ import annotations

import gzip
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from afirs_dspy.text.embeddings import unit_rows
from afirs_dspy.utils.shared_resource import SharedResource

LEVEL_NAMES = ("root", "category", "subcategory", "attribute", "item group")
ATTRIBUTE_LEVEL = 3
_INT = (int, np.integer)


@dataclass(frozen=True)
class TreeNode:
    id: int
    name: str
    level: int
    parent: int | None
    items: tuple[int, ...] = ()
    # How the node got its place: "llm", "embedding" (nearest by similarity) or "fallback".
    placed_by: str = "llm"


@dataclass(eq=False)  # identity equality: trees are hashable and cacheable
class PreferenceTree(SharedResource):
    nodes: list[TreeNode]
    n_items: int
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        problem = self._structure_problem()
        if problem:
            raise ValueError(problem)

    def _structure_problem(self) -> str | None:
        """Why the nodes do not form a tree, or None. Ids are positions, node 0 is the only root, and
        every parent comes before its child at a lower level: that rules out cycles, which the walks
        up (``path``) and the fold of items into parents rely on."""
        if not self.nodes:
            return "the tree has no nodes"
        if not isinstance(self.n_items, _INT) or self.n_items < 0:
            return f"n_items is {self.n_items!r}"
        for position, node in enumerate(self.nodes):
            if node.id != position:
                return f"node ids must be their positions: node {node.id!r} at {position}"
            if not (isinstance(node.name, str) and isinstance(node.level, _INT) and 0 <= node.level < len(LEVEL_NAMES)):
                return f"node {position} has name {node.name!r} and level {node.level!r}"
            if position == 0:
                if node.parent is not None or node.level != 0:
                    return "node 0 must be the root: level 0, no parent"
                continue
            parent = node.parent
            if not isinstance(parent, _INT) or not 0 <= parent < position:
                return f"node {position}'s parent {parent!r} is not a node before it"
            if node.level <= self.nodes[parent].level:
                return (f"node {position} (level {node.level}) is not below its parent {parent} "
                        f"(level {self.nodes[parent].level})")
            items = np.asarray(node.items)
            if items.size and (items.dtype.kind not in "iu" or items.min() < 1 or items.max() > self.n_items):
                return f"node {position} holds items that are not ids in 1..{self.n_items}"
        return None

    @property
    def root(self) -> TreeNode:
        return self.nodes[0]

    @cached_property
    def _children(self) -> dict[int, list[int]]:
        children: dict[int, list[int]] = {node.id: [] for node in self.nodes}
        for node in self.nodes[1:]:
            children[node.parent].append(node.id)
        return children

    def children(self, node_id: int) -> list[TreeNode]:
        return [self.nodes[i] for i in self._children[node_id]]

    def ancestors(self, node_id: int) -> list[int]:
        """The ids above ``node_id``, its parent first, the root last."""
        above = []
        while self.nodes[node_id].parent is not None:
            node_id = self.nodes[node_id].parent
            above.append(node_id)
        return above

    def path(self, node_id: int) -> str:
        """'Category > Subcategory > attribute' (the root left out)."""
        on_path = [node_id, *self.ancestors(node_id)][:-1]  # the root is left out
        return " > ".join(self.nodes[n].name for n in reversed(on_path))

    def meaning_vectors(self, name_vectors: np.ndarray) -> np.ndarray:
        """What each node means to a request, from ``name_vectors[i]`` (node i's name embedded): its name
        joined with the mean of the names below it down to the attributes (a category is what it holds),
        unit length. A path's shared prefix would drown what sets siblings apart ("... > Crime, psychology
        > stoner movie" ranked first for "a war movie"), and a name alone says little of a category."""
        unit = unit_rows(name_vectors)
        total, count = unit.copy(), np.ones(len(self.nodes))
        for node in reversed(self.nodes[1:]):  # children come after their parent
            if node.level <= ATTRIBUTE_LEVEL:  # item groups' names are the LM's, not the catalog's
                total[node.parent] += total[node.id]
                count[node.parent] += count[node.id]
        return unit_rows(unit + unit_rows(total / count[:, None]))

    @cached_property
    def _subtree_items(self) -> list[np.ndarray]:
        items: list[np.ndarray] = [np.asarray(node.items, dtype=np.int64) for node in self.nodes]
        # Children always come after their parent, so a reverse pass folds leaves into parents.
        for node in reversed(self.nodes[1:]):
            items[node.parent] = np.union1d(items[node.parent], items[node.id])
        return items

    def node_items(self, node_id: int) -> np.ndarray:
        """Sorted item indices under ``node_id``."""
        return self._subtree_items[node_id]

    def item_mapping(self) -> dict[str, np.ndarray]:
        """Node id (as str) → items, for every node below the root: the recommender's inverted index."""
        return {str(node.id): self.node_items(node.id) for node in self.nodes[1:]}

    def parent_keys(self) -> dict[str, str]:
        """Node id → its parent's id (as str, like ``item_mapping``'s keys) below the categories: where a
        preference with too few items widens to."""
        return {str(node.id): str(node.parent) for node in self.nodes[1:] if node.parent != self.root.id}

    def attribute_nodes(self) -> list[TreeNode]:
        return [node for node in self.nodes if node.level == ATTRIBUTE_LEVEL]

    def coverage(self, attributes: set[str]) -> dict:
        """How many of the catalog's attributes and items the tree reaches."""
        placed = {node.name for node in self.attribute_nodes()}
        reachable = self.node_items(0)
        return {
            "attributes": len(attributes),
            "attributes_in_tree": len(attributes & placed),
            "missing_attributes": sorted(attributes - placed),
            "items": self.n_items,
            "items_reachable": int(len(reachable)),
            "nodes_per_level": {LEVEL_NAMES[lv]: sum(n.level == lv for n in self.nodes) for lv in range(len(LEVEL_NAMES))},
            "placed_by": {how: sum(n.placed_by == how for n in self.nodes[1:]) for how in ("llm", "embedding", "fallback")},
        }

    def save(self, path: str | os.PathLike) -> None:
        """JSON, written to a temporary file and renamed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"n_items": self.n_items, "meta": self.meta, "nodes": [asdict(node) for node in self.nodes]}
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
            json.dump(payload, handle)
        os.replace(handle.name, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> PreferenceTree:
        """The tree saved at ``path`` (gzip-compressed when it ends in .gz); ValueError naming the file
        when it is not a valid tree."""
        try:
            raw = Path(path).read_bytes()
            payload = json.loads(gzip.decompress(raw) if str(path).endswith(".gz") else raw)
            nodes = [TreeNode(**{**node, "items": tuple(node.get("items", ()))}) for node in payload["nodes"]]
            meta = payload.get("meta", {})
            if not isinstance(meta, dict):
                raise TypeError("meta is not an object")
            return cls(nodes=nodes, n_items=payload["n_items"], meta=meta)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, EOFError, gzip.BadGzipFile) as exc:
            raise ValueError(f"{path} is not a valid preference tree ({type(exc).__name__}: {exc}); "
                             "rebuild it with `afirs-dspy build-tree --force`") from None
