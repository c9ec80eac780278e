"""The preference tree's structure: attributes and items grouped by similarity, no LM involved.

Attributes are described by their sentence embedding joined with their item co-occurrence (LSA of
the TF-IDF weighted attribute × item incidence), so "zombies" sits near "horror" both because the
words are close and because the same films carry them. Groups are cut from a Ward dendrogram.

Anchors are the attributes most items carry (MovieLens genres, Steam's Action/Indie/RPG, Beauty's
Skin Care/Hair Care): the words people name a wish with. Every other attribute joins the anchor whose
items it shares most and whose name is closest, so "zombies" and "scary" hang under "Horror".
"""
from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import linkage, to_tree
from scipy.sparse import csr_matrix
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer

from afirs_dspy.text.embeddings import unit_rows


def incidence(members: list[np.ndarray], n_items: int) -> csr_matrix:
    """Attribute × item 0/1 matrix; ``members[a]`` are the 1-based item indices carrying attribute ``a``."""
    rows = np.repeat(np.arange(len(members)), [len(m) for m in members])
    return csr_matrix((np.ones(len(rows)), (rows, np.concatenate(members) - 1)), shape=(len(members), n_items))


def attribute_features(semantic: np.ndarray, members: list[np.ndarray], n_items: int,
                       cooccurrence_weight: float, dims: int, seed: int) -> np.ndarray:
    """Rows: each attribute's unit embedding and unit co-occurrence vector, weighted so that squared
    distances mix ``1 - cooccurrence_weight`` of the first with ``cooccurrence_weight`` of the second.
    ``members[a]`` are the 1-based item indices carrying attribute ``a``."""
    k = min(dims, len(members) - 1, n_items - 1)
    if cooccurrence_weight == 0 or k < 1:
        return semantic
    weighted = TfidfTransformer().fit_transform(incidence(members, n_items))
    cooccurrence = unit_rows(TruncatedSVD(k, random_state=seed).fit_transform(weighted))
    return np.hstack([np.sqrt(1 - cooccurrence_weight) * semantic, np.sqrt(cooccurrence_weight) * cooccurrence])


def anchor_fit(semantic: np.ndarray, members: list[np.ndarray], n_items: int, most: int, min_share: float,
               cooccurrence_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(anchor rows, fit): the anchors are at most ``most`` of the attributes (``members`` in descending
    size) carried by at least ``min_share`` of the items; fit[a, j] says how well attribute a sits
    under anchor j: ``cooccurrence_weight`` × how much more often a's items carry the anchor than
    items do on average, plus (1 − weight) × the cosine of their names. Shared items decide for a tag
    on many items ("zombies" films are mostly Horror), the name for a tag on one item. An anchor fits
    under itself only; an anchor no other attribute would join is no anchor ("Shampoos" joins "Hair
    Care"), so the anchors are chosen again without it, the least frequent first."""
    matrix = incidence(members, n_items)
    counts = np.asarray(matrix.sum(axis=1)).ravel()
    anchors = np.arange(int(min(most, np.sum(counts >= min_share * n_items))))
    while len(anchors) >= 2:
        excess = (matrix @ matrix[anchors].T).toarray() / counts[:, None] - counts[anchors] / n_items
        fit = cooccurrence_weight * excess + (1 - cooccurrence_weight) * (semantic @ semantic[anchors].T)
        fit[anchors] = -np.inf
        fit[anchors, np.arange(len(anchors))] = np.inf
        owned = np.bincount(np.argmax(fit, axis=1), minlength=len(anchors))
        if owned.min() > 1:
            return anchors, fit
        # One at a time, least frequent first: under a larger anchor it may give that one company.
        anchors = np.delete(anchors, np.flatnonzero(owned == 1)[-1])
    return anchors[:0], np.zeros((len(members), 0))


def similarity_groups(features: np.ndarray, n_groups: int, max_share: float = 0.5,
                      sizes: np.ndarray | None = None) -> list[np.ndarray]:
    """Row indices of ``features`` in at least ``n_groups`` groups (fewer only when there are fewer
    rows), none holding more than ``max_share`` of the rows (of their total ``sizes``, one each by
    default), largest group first.

    The Ward dendrogram is cut at its highest merges, then a group that is still too large is split
    along its own branches; groups of one row join the nearest group while ``n_groups`` remain, unless
    rows are weighed: a row with a size of its own (an anchor and its attributes) may stand alone."""
    if len(features) < 2:
        return [np.arange(len(features))]
    weighed = sizes is not None
    sizes = np.asarray(sizes, dtype=float) if weighed else np.ones(len(features))
    root = to_tree(linkage(features, method="ward"))
    groups = [root]
    limit = max(sizes.max(), max_share * sizes.sum())
    while True:
        inner = [g for g in groups if not g.is_leaf()]
        size = {g.id: sizes[g.pre_order()].sum() for g in inner}
        too_large = [g for g in inner if size[g.id] > limit]
        if too_large:
            split = max(too_large, key=lambda g: (size[g.id], g.id))
        elif len(groups) < n_groups and inner:
            split = max(inner, key=lambda g: (g.dist, g.id))
        else:
            break
        groups.remove(split)
        groups += [split.get_left(), split.get_right()]
    members = [np.asarray(sorted(g.pre_order()), dtype=np.int64) for g in groups]
    if weighed:
        return sorted(members, key=lambda m: (-len(m), int(m[0])))
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
    return unit_rows(features[rows]) @ (centre / (np.linalg.norm(centre) or 1.0))


def centres(features: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    return unit_rows(np.stack([features[g].mean(axis=0) for g in groups]))
