"""The preference tree's structure: attributes and items grouped by similarity, no LM involved.

Attributes are described by their sentence embedding joined with their item co-occurrence (LSA of
the TF-IDF weighted attribute × item incidence), so "zombies" sits near "horror" both because the
words are close and because the same films carry them. Groups are cut from a Ward dendrogram.
"""
from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage, to_tree
from scipy.sparse import csr_matrix
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def attribute_features(semantic: np.ndarray, members: list[np.ndarray], n_items: int,
                       cooccurrence_weight: float, dims: int, seed: int) -> np.ndarray:
    """Rows: each attribute's unit embedding and unit co-occurrence vector, weighted so that squared
    distances mix ``1 - cooccurrence_weight`` of the first with ``cooccurrence_weight`` of the second.
    ``members[a]`` are the 1-based item indices carrying attribute ``a``."""
    k = min(dims, len(members) - 1, n_items - 1)
    if cooccurrence_weight == 0 or k < 1:
        return semantic
    rows = np.repeat(np.arange(len(members)), [len(m) for m in members])
    incidence = csr_matrix((np.ones(len(rows)), (rows, np.concatenate(members) - 1)), shape=(len(members), n_items))
    weighted = TfidfTransformer().fit_transform(incidence)
    cooccurrence = _unit_rows(TruncatedSVD(k, random_state=seed).fit_transform(weighted))
    return np.hstack([np.sqrt(1 - cooccurrence_weight) * semantic, np.sqrt(cooccurrence_weight) * cooccurrence])


def similarity_groups(features: np.ndarray, n_groups: int, max_share: float = 0.5) -> list[np.ndarray]:
    """Row indices of ``features`` in at least ``n_groups`` groups (fewer only when there are fewer
    rows), none holding more than ``max_share`` of the rows, largest group first.

    The Ward dendrogram is cut at its highest merges, then a group that is still too large is split
    along its own branches; groups of one row join the nearest group while ``n_groups`` remain."""
    if len(features) < 2:
        return [np.arange(len(features))]
    root = to_tree(linkage(features, method="ward"))
    groups = [root]
    limit = max(1.0, max_share * len(features))
    while True:
        inner = [g for g in groups if not g.is_leaf()]
        too_large = [g for g in inner if g.count > limit]
        if too_large:
            split = max(too_large, key=lambda g: (g.count, g.id))
        elif len(groups) < n_groups and inner:
            split = max(inner, key=lambda g: (g.dist, g.id))
        else:
            break
        groups.remove(split)
        groups += [split.get_left(), split.get_right()]
    members = [np.asarray(sorted(g.pre_order()), dtype=np.int64) for g in groups]
    return _absorb_singletons(features, members, n_groups)


def _absorb_singletons(features: np.ndarray, members: list[np.ndarray], n_groups: int) -> list[np.ndarray]:
    solid = [m for m in members if len(m) > 1]
    lone = sorted(int(m[0]) for m in members if len(m) == 1)
    kept = max(0, n_groups - len(solid))
    solid += [np.asarray([row]) for row in lone[:kept]]
    lone = lone[kept:]
    if not lone:
        return sorted(solid, key=lambda m: (-len(m), int(m[0])))
    nearest = np.argmax(features[lone] @ centres(features, solid).T, axis=1)
    grown = [list(m) for m in solid]
    for row, group in zip(lone, nearest):
        grown[group].append(row)
    return sorted((np.asarray(sorted(m), dtype=np.int64) for m in grown), key=lambda m: (-len(m), int(m[0])))


def typicality(features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosine of each row to the centre of ``rows`` (features are unit or weighted-unit vectors)."""
    centre = features[rows].mean(axis=0)
    return _unit_rows(features[rows]) @ (centre / (np.linalg.norm(centre) or 1.0))


def centres(features: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return _unit_rows(np.stack([features[g].mean(axis=0) for g in groups]))
