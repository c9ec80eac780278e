"""The preference tree's shape before any LM call: which attribute rows form each category and
subcategory, how well a row fits each category, and where a misfit moves (programs/tree_builder.py
names the groups and asks the LM about misfits). Rows are attribute indices in frequency order.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from afirs_dspy.programs.similarity_groups import anchor_fit, centres, similarity_groups

if TYPE_CHECKING:
    from afirs_dspy.programs.tree_builder import TreeBuildConfig


def tree_structure(semantic: np.ndarray, members: list[np.ndarray], n_items: int, features: np.ndarray,
                   config: TreeBuildConfig) -> SimilarityStructure:
    """Anchored when at least two anchors are found, else similarity clusters of all attributes."""
    anchors, fit = anchor_fit(semantic, members, n_items, config.anchors, config.anchor_min_share,
                              config.anchor_cooccurrence_weight)
    return AnchoredStructure(anchors, fit, features, config) if len(anchors) >= 2 else SimilarityStructure(features, config)


class SimilarityStructure:
    """Categories and subcategories cut from the attributes' similarity dendrogram (no anchors:
    ``anchors=0``, or fewer than two found)."""

    anchors = np.zeros(0, dtype=np.int64)  # rows that never move

    def __init__(self, features: np.ndarray, config: TreeBuildConfig):
        self.features, self.config = features, config
        self.groups = similarity_groups(features, config.n_categories, config.max_share)

    def categories(self) -> list[np.ndarray]:
        return self.groups

    def name_length(self, rows: np.ndarray) -> int:
        """How many of a group's first attributes its fallback name joins: its anchors (up to 4:
        "Thriller, Mystery, Horror"), else two (one attribute's name would misname a cluster)."""
        anchors = int(np.isin(rows, self.anchors).sum())
        return min(anchors, 4) if anchors else 2

    def category_fit(self) -> np.ndarray:
        """fit[row, g]: how well each row fits category g (here: cosine to its centre)."""
        return self.features @ centres(self.features, self.groups).T

    def move(self, moves: dict[int, int]) -> None:
        """Each row of ``moves`` into its category."""
        self.groups = [np.asarray(sorted(set(rows.tolist()) - set(moves) | {r for r, t in moves.items() if t == g}),
                                  dtype=np.int64) for g, rows in enumerate(self.groups)]

    def subgroups(self, rows: np.ndarray) -> list[np.ndarray]:
        """The category's rows in groups, each keeping the rows' order: a group's first rows name it."""
        n_sub = min(self.config.max_subcategories, max(2, round(len(rows) / self.config.attributes_per_subcategory)))
        return [rows[g] for g in similarity_groups(self.features[rows], n_sub, self.config.max_share)]


class AnchoredStructure(SimilarityStructure):
    """Categories are groups of anchors (clustered by similarity, weighted by the attributes each
    holds), each anchor with the attributes it owns is a subcategory: "Horror, disturbing" under a
    category of Horror, Thriller and Mystery. A category of one anchor is split by similarity."""

    def __init__(self, anchors: np.ndarray, fit: np.ndarray, features: np.ndarray, config: TreeBuildConfig):
        self.features, self.config, self.anchors, self.fit = features, config, anchors, fit
        self.owner = np.argmax(fit, axis=1)  # column of the anchor each row sits under
        sizes = np.bincount(self.owner, minlength=len(anchors))
        self.anchor_groups = similarity_groups(features[anchors], config.n_categories, config.max_share, sizes)

    def categories(self) -> list[np.ndarray]:
        return [self._anchors_first(np.flatnonzero(np.isin(self.owner, columns))) for columns in self.anchor_groups]

    def _anchors_first(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` (in frequency order) with their anchors first: a group is named and read by its anchors."""
        anchor = np.isin(rows, self.anchors)
        return np.concatenate([rows[anchor], rows[~anchor]])

    def category_fit(self) -> np.ndarray:
        return np.stack([self.fit[:, columns].max(axis=1) for columns in self.anchor_groups], axis=1)

    def move(self, moves: dict[int, int]) -> None:
        for row, g in moves.items():
            columns = self.anchor_groups[g]
            self.owner[row] = columns[np.argmax(self.fit[row, columns])]

    def subgroups(self, rows: np.ndarray) -> list[np.ndarray]:
        columns = sorted(set(self.owner[rows].tolist()))
        if len(columns) < 2:
            return super().subgroups(rows)
        return [self._anchors_first(rows[self.owner[rows] == column]) for column in columns]
