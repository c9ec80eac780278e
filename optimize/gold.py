"""What a correct answer is for one target item: the tree paths that lead to it and its catalog line."""
from __future__ import annotations

import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.preference_tree import PreferenceTree


class TargetGold:
    """Gold labels for sessions about ``target``, computed from the tree and the catalog (no LM)."""

    def __init__(self, tree: PreferenceTree, catalog: Catalog, target: int):
        self.target = target
        self.paths = {tree.path(node.id) for node in tree.nodes[1:] if _holds(tree.node_items(node.id), target)}
        self.line = catalog.line(target)


def _holds(sorted_items: np.ndarray, item: int) -> bool:
    position = np.searchsorted(sorted_items, item)
    return bool(position < len(sorted_items) and sorted_items[position] == item)
