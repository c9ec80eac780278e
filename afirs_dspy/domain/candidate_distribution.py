"""Which tree aspect to ask about, computed in code from the candidate list (paper 4.2.2).

An aspect is a subcategory of the tree; its options are its attributes. Taking the wanted item as
uniform over the candidates and the user's answer as the set of the aspect's options that item has,
asking about an aspect gains, in expectation, the entropy of the partition of the candidates by that
set (bits), and leaves sum(size²)/n candidates consistent with the answer. Aspects the conversation has
settled and options the user already named are left out before scoring, so they are never asked again.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from afirs_dspy.domain.conversation_facts import option_names
from afirs_dspy.domain.preference_tree import PreferenceTree


MIN_OPTION_SHARE = 0.1  # of the candidates in play an option must hold


@dataclass(frozen=True)
class Aspect:
    id: int
    path: str
    options: tuple[tuple[str, int], ...]  # (attribute, candidates holding it), most common first
    bits: float  # expected information gain of the answer
    expected_left: float  # expected candidates consistent with the answer
    total: int

    @property
    def name(self) -> str:
        return self.path.split(" > ")[-1]

    def render(self) -> str:
        return f"{self.path}: " + ", ".join(f"{name} ({count} of {self.total})" for name, count in self.options)


@lru_cache(maxsize=8)
def _attribute_pairs(tree: PreferenceTree) -> tuple[np.ndarray, np.ndarray]:
    """CSR of item → attribute node ids."""
    attributes = tree.attribute_nodes()
    nodes = np.repeat([n.id for n in attributes], [len(n.items) for n in attributes]).astype(np.int64)
    items = np.concatenate([np.asarray(n.items, dtype=np.int64) for n in attributes]) if attributes else np.zeros(0, np.int64)
    order = np.argsort(items, kind="stable")
    offsets = np.searchsorted(items[order], np.arange(tree.n_items + 2))
    return nodes[order], offsets


def attributes_of(tree: PreferenceTree, item: int) -> np.ndarray:
    """The attribute nodes ``item`` holds."""
    node_of, offsets = _attribute_pairs(tree)
    return node_of[offsets[item] : offsets[item + 1]]


@lru_cache(maxsize=8)
def _aspect_array(tree: PreferenceTree) -> np.ndarray:
    """Node id → its aspect, for the attributes that can be offered (a name recognisable in text); else -1."""
    aspects = np.full(len(tree.nodes), -1, dtype=np.int64)
    for node, aspect in option_names(tree).aspect.items():
        aspects[node] = aspect
    return aspects


def split_aspects(tree: PreferenceTree, candidates: list[int], top: int = 3, options: int = 4,
                  exclude_aspects: frozenset[int] = frozenset(), exclude_options: frozenset[int] = frozenset(),
                  min_share: float = MIN_OPTION_SHARE, min_holders: int = 2) -> list[Aspect]:
    """The ``top`` aspects with the highest expected information gain over ``candidates``, best first;
    only aspects that split them (gain > 0), each with its ``options`` most common splitting options. An
    option is an attribute at least ``min_share`` of the candidates hold, and at least ``min_holders``: one
    held by a single candidate ("in your eyes") tells the user nothing about the others."""
    if not candidates:
        return []
    aspect_of = _aspect_array(tree)
    n = len(candidates)
    held = [attributes_of(tree, i) for i in candidates]
    rows = np.repeat(np.arange(n), [len(h) for h in held])
    nodes = np.concatenate(held)
    askable = ((aspect_of[nodes] >= 0) & ~np.isin(aspect_of[nodes], list(exclude_aspects))
               & ~np.isin(nodes, list(exclude_options)))
    columns, column_of = np.unique(nodes[askable], return_inverse=True)
    member = np.zeros((n, len(columns)), dtype=bool)
    member[rows[askable], column_of] = True
    counts = member.sum(axis=0)
    splitting = (counts >= max(min_holders, np.ceil(min_share * n))) & (counts < n)
    column_aspects = aspect_of[columns]
    scored = []
    for aspect in np.unique(column_aspects[splitting]):
        cols = np.flatnonzero(splitting & (column_aspects == aspect))
        sizes = np.unique(member[:, cols], axis=0, return_counts=True)[1]
        p = sizes / n
        scored.append((float(-(p * np.log2(p)).sum()), float((sizes ** 2).sum() / n), int(aspect), cols))
    scored.sort(key=lambda s: (-round(s[0], 9), s[2]))  # equal gains (float noise aside): the first aspect
    return [
        Aspect(id=aspect, path=tree.path(aspect), bits=bits, expected_left=left, total=n,
               options=tuple((tree.nodes[int(columns[c])].name, int(counts[c]))
                             for c in sorted(cols, key=lambda c: (-counts[c], columns[c]))[:options]))
        for bits, left, aspect, cols in scored[:top]
    ]
