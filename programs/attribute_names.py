"""The tree's attribute names, embedded once, and phrases mapped onto them: what a user refuses or takes back
("not a cartoon", "forget the zombies") becomes attribute nodes without an LM call."""
from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.text.user_words import words


RARE = 5  # an attribute fewer items carry says more about its kind than about itself (as the simulator's support)
WIDEN_SIMILARITY = 0.5  # a rare name's anchor stands for it when this similar to the user's phrase


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
        name if it is at least ``min_similarity`` similar, else none."""
        return tuple(dict.fromkeys(node for phrase in phrases for node in self.named(phrase)))

    def named(self, phrase: str) -> list[int]:
        said = words(phrase)
        if said in self.by_words:
            return [self.by_words[said]]
        holding = [node for name, node in self.by_words.items() if said and set(said) <= set(name)]
        if holding or not len(self.ids):
            return holding
        similarity = self.vectors @ self.embedder.encode([phrase])[0]
        best = int(similarity.argmax())
        return [int(self.ids[best])] if similarity[best] >= self.min_similarity else []

    def refused(self, phrases: Sequence[str]) -> tuple[int, ...]:
        """What refusing ``phrases`` rules out: the attributes they name, and for a name that few items carry
        (fewer than ``RARE``: "cartoon", on one film) the anchor of its subcategory when the anchor's name is
        like the phrase ("not a cartoon" rules out Animation; "no gore", unlike its anchor Crime, does not)."""
        found = []
        for phrase in phrases:
            for node in self.named(phrase):
                found.append(node)
                anchor = self.anchor(node)
                if len(self.tree.node_items(node)) < RARE and anchor != node and self.similar(phrase, anchor):
                    found.append(anchor)
        return tuple(dict.fromkeys(found))

    def anchor(self, node: int) -> int:
        """The attribute with the most items in ``node``'s subcategory (the anchored tree's anchor)."""
        siblings = self.tree.children(self.tree.nodes[node].parent)
        return max((s.id for s in siblings), key=lambda s: len(self.tree.node_items(s)))

    def similar(self, phrase: str, node: int) -> bool:
        phrase_vector, name_vector = self.embedder.encode([phrase, self.tree.nodes[node].name])
        return float(phrase_vector @ name_vector) >= WIDEN_SIMILARITY
