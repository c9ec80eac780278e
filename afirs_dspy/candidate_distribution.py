"""Which tree aspects split a candidate list best, computed in code for the question (paper 4.2.2).

An aspect is a subcategory of the tree; its options are its attributes. Asking about an option
held by a fraction p of the candidates yields the binary entropy H(p) bits, so an aspect scores
the sum of H over its options: options every candidate shares (the preferences already stated)
or none has score zero by themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from afirs_dspy.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree


@dataclass(frozen=True)
class Aspect:
    path: str
    options: tuple[tuple[str, int], ...]  # (attribute, candidates holding it), most common first
    bits: float
    total: int

    def render(self) -> str:
        return f"{self.path}: " + ", ".join(f"{name} ({count} of {self.total})" for name, count in self.options)


@lru_cache(maxsize=8)
def _attribute_pairs(tree: PreferenceTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of item → attribute node ids, plus every node's parent (root's is -1)."""
    attributes = tree.attribute_nodes()
    nodes = np.repeat([n.id for n in attributes], [len(n.items) for n in attributes])
    items = np.concatenate([np.asarray(n.items, dtype=np.int64) for n in attributes]) if attributes else np.zeros(0, np.int64)
    order = np.argsort(items, kind="stable")
    offsets = np.searchsorted(items[order], np.arange(tree.n_items + 2))
    parents = np.array([-1 if n.parent is None else n.parent for n in tree.nodes])
    return nodes[order], offsets, parents


def _entropy(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return np.where((p > 0) & (p < 1), -(q * np.log2(q) + (1 - q) * np.log2(1 - q)), 0.0)


def split_aspects(tree: PreferenceTree, candidates: list[int], top: int = 3, options: int = 4) -> list[Aspect]:
    """The ``top`` aspects whose options split ``candidates`` most evenly, best first."""
    if not candidates:
        return []
    node_of, offsets, parents = _attribute_pairs(tree)
    cands = np.asarray(candidates, dtype=np.int64)
    spans = [node_of[offsets[i] : offsets[i + 1]] for i in cands]
    counts = np.bincount(np.concatenate(spans), minlength=len(tree.nodes)) if spans else np.zeros(len(tree.nodes))
    bits = _entropy(counts / len(cands))
    is_attribute = np.array([n.level == ATTRIBUTE_LEVEL for n in tree.nodes])
    aspect_bits = np.zeros(len(tree.nodes))
    np.add.at(aspect_bits, parents[is_attribute], bits[is_attribute])
    best = [a for a in np.argsort(-aspect_bits, kind="stable")[:top] if aspect_bits[a] > 0]
    aspects = []
    for aspect in best:
        children = [c for c in tree.children(int(aspect)) if 0 < counts[c.id] < len(cands)]
        children.sort(key=lambda c: -counts[c.id])
        aspects.append(Aspect(
            path=tree.path(int(aspect)),
            options=tuple((c.name, int(counts[c.id])) for c in children[:options]),
            bits=float(aspect_bits[aspect]),
            total=len(cands),
        ))
    return aspects
