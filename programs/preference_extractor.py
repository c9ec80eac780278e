"""Session preference extraction: the user's replies mapped down the tree level by level (eq. 1–2).

At each level the children of the nodes picked above are pre-ranked by embedding similarity to
the user's text (Infer-Retrieve-Rank style) and only the top ones are shown to the LM, which
picks the relevant ones in order. The session preferences are the deepest picked nodes, less any
option the user rejected ("not horror"), plus the options the user named (found in code) within the
aspects in play: those the LM picked from and those the recommender asked about. The LM keeps one node
per level, so without this "Drama and Musical", the answer to a genre question, would become one.
"""
from __future__ import annotations

import dspy
import numpy as np

from afirs_dspy.conversation_facts import ConversationFacts
from afirs_dspy.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.preference_tree import PreferenceTree
from afirs_dspy.programs.guarded import guarded_call, valid_numbers
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import SelectNodes


class SessionPreferenceExtractor(dspy.Module):
    def __init__(self, tree: PreferenceTree, embedder: TextEmbedder, vectors: np.ndarray,
                 top_children: int = 8, max_per_level: int = 1):
        super().__init__()
        self.tree = tree
        self.embedder = embedder
        self.vectors = vectors
        self.top_children = top_children
        self.max_per_level = max_per_level
        self.select = predictor(SelectNodes)

    def forward(self, user_responses: str, facts: ConversationFacts = ConversationFacts()) -> dspy.Prediction:
        """Returns ``levels`` (picked node ids per level), ``preferences`` (the deepest of the picked
        nodes as ``facts`` corrects them) and ``trace``."""
        trace: list[dict] = []
        query = self.embedder.encode([user_responses])[0]
        levels: list[list[int]] = []
        frontier = [self.tree.root.id]
        while True:
            children = [child.id for parent in frontier for child in self.tree.children(parent)]
            if not children:
                break
            shown = self._prerank(children, query)
            if len(shown) == 1:
                # Nothing to choose between: descend without asking the LM.
                trace.append({"step": f"select_level_{len(levels) + 1}", "status": "ok", "errors": [],
                              "note": "single child taken without an LM call"})
                frontier = shown
                levels.append(frontier)
                continue
            picks = guarded_call(
                self.select, lambda p, n=len(shown): valid_numbers(p.selected, n, self.max_per_level), list,
                trace, f"select_level_{len(levels) + 1}",
                user_responses=user_responses,
                nodes=[f"{n}. {self.tree.path(node)}" for n, node in enumerate(shown, start=1)],
            )
            if not picks:
                break
            frontier = [shown[p] for p in picks]
            levels.append(frontier)
        picked = facts.session_preferences(self.tree, [node for level in levels for node in level])
        return dspy.Prediction(levels=levels, preferences=self._deepest(picked), trace=trace)

    def _prerank(self, children: list[int], query: np.ndarray) -> list[int]:
        if len(children) <= self.top_children:
            return children
        return [children[i] for i in top_k_similar(query, self.vectors[children], self.top_children)]

    def _deepest(self, picked: list[int]) -> list[int]:
        """Picked nodes with no picked descendant: a deeper pick refines its ancestor."""
        parents = {self.tree.nodes[node].parent for node in picked}
        return [node for node in picked if node not in parents]
