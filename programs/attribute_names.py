"""The tree's attribute names, embedded once, and phrases mapped onto them: what a user refuses or takes back
("not a cartoon", "forget the zombies") becomes attribute nodes without an LM call."""
from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.text.user_words import words


class AttributeNames:
    """``ids`` / ``vectors``: the attribute nodes with a sayable name, one per name (of attributes said alike
    the one with the most items), and their name vectors. Names made only of the catalog's own word (a
    "movies" tag) are left out: every request says them."""

    def __init__(self, tree: PreferenceTree, embedder: TextEmbedder, min_similarity: float = 0.6):
        self.tree = tree
        self.embedder = embedder
        self.min_similarity = min_similarity  # a phrase with no name of its words maps to a name this similar

    @cached_property
    def by_words(self) -> dict[tuple[str, ...], int]:
        chosen: dict[tuple[str, ...], int] = {}
        for node in sorted(self.tree.attribute_nodes(), key=lambda n: -len(self.tree.node_items(n.id))):
            if words(node.name) not in ((), words(self.tree.root.name)):
                chosen.setdefault(words(node.name), node.id)
        return chosen

    @cached_property
    def ids(self) -> np.ndarray:
        return np.array(sorted(self.by_words.values()), dtype=np.int64)

    @cached_property
    def vectors(self) -> np.ndarray:
        names = [self.tree.nodes[i].name for i in self.ids]
        return self.embedder.encode(names) if names else np.zeros((0, 1), dtype=np.float32)

    def nodes(self, phrases: Sequence[str]) -> tuple[int, ...]:
        """The attribute nodes ``phrases`` name: the one said alike ("horror" → Horror), else every name that
        holds all of the phrase's words ("Disney" → Disney, Disney animated feature), else the most similar
        name if it is at least ``min_similarity`` similar ("cartoon" → animated), else none."""
        found: list[int] = []
        unnamed = []
        for phrase in phrases:
            said = words(phrase)
            if said in self.by_words:
                found.append(self.by_words[said])
                continue
            holding = [node for name, node in self.by_words.items() if said and set(said) <= set(name)]
            if holding:
                found += holding
            else:
                unnamed.append(phrase)
        if unnamed and len(self.ids):
            similarity = self.embedder.encode(unnamed) @ self.vectors.T
            best = similarity.argmax(axis=1)
            found += [int(self.ids[b]) for row, b in enumerate(best) if similarity[row, b] >= self.min_similarity]
        return tuple(dict.fromkeys(found))
