"""Session preference extraction: the user's replies mapped to nodes of the tree (eq. 1–2).

Two modes (``AFIRSConfig.extraction``):

* ``"confirm"`` (default): code proposes, the LM confirms. The text is split into wish phrases (at
  punctuation and at "and", "but", "with", "also", "or", "plus"), less their filler words ("I'm in the
  mood for a … movie"); a negated phrase ("not too long") proposes nothing. For each phrase, each word of a
  many-word phrase that is no attribute's name, and all of them together (unless each is a name) the
  attributes with the most similar names (embedding cosine) are proposed, the best of every phrase first, at
  most ``max_options``, each shown as its full path; one call of ``ConfirmPreferences`` keeps those the user
  asks for. So "a scary movie with zombies, but also funny" can keep three wishes, not the first one only.
  When the LM's answer is unusable (twice) the proposals at least ``accept_similarity`` similar are kept
  (0.8: on ml-latest-small validation openers nine in ten wrong proposals score below it, the attributes the
  user named score 1). ``levels`` still lists each kept attribute's path, level by level (category,
  subcategory, attribute).
* ``"levelwise"``: the paper's literal descent. At each level the children of the nodes picked above
  are pre-ranked by embedding similarity (Infer-Retrieve-Rank style) and only the top ones are shown to
  the LM, best first (``SelectNodes``), which picks up to ``max_per_level`` of them; one call per level.

In both, the session preferences are the deepest picked nodes, less any option the user rejected ("not
horror"), plus the options the user named (found in code) within the aspects in play: those picked from
and those the recommender asked about ("Drama and Musical", the answer to a genre question, gives two).
"""
from __future__ import annotations

from collections.abc import Sequence

import dspy
import numpy as np

from afirs_dspy.domain.conversation_facts import ConversationFacts
from afirs_dspy.text.user_words import wishes as user_wishes, words
from afirs_dspy.text.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.programs.attribute_names import AttributeNames
from afirs_dspy.programs.guarded import guarded_call, valid_numbers
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import ConfirmPreferences, SelectNodes

EXTRACTION_MODES = ("confirm", "levelwise")


class SessionPreferenceExtractor(dspy.Module):
    def __init__(self, tree: PreferenceTree, embedder: TextEmbedder, vectors: np.ndarray,
                 top_children: int = 8, max_per_level: int = 1, mode: str = "confirm",
                 max_options: int = 8, per_phrase: int = 1, min_similarity: float = 0.6,
                 accept_similarity: float = 0.8, names: AttributeNames | None = None):
        """``names``: the attribute names to propose from (shared with the session memory; made here when
        not given)."""
        super().__init__()
        if mode not in EXTRACTION_MODES:
            raise ValueError(f"extraction must be one of {', '.join(EXTRACTION_MODES)}, got {mode!r}")
        self.tree = tree
        self.embedder = embedder
        self.names = names or AttributeNames(tree, embedder)
        self.vectors = vectors
        self.top_children = top_children
        self.max_per_level = max_per_level
        self.mode = mode
        self.max_options = max_options
        self.per_phrase = per_phrase
        self.min_similarity = min_similarity
        self.accept_similarity = accept_similarity
        self.select = predictor(SelectNodes)
        self.confirm = predictor(ConfirmPreferences)

    def forward(self, user_responses: str, facts: ConversationFacts = ConversationFacts(),
                wishes: Sequence[str] | None = None) -> dspy.Prediction:
        """Returns ``levels`` (picked node ids per level), ``preferences`` (the deepest of the picked
        nodes as ``facts`` corrects them) and ``trace``. ``wishes``: the wish phrases of ``user_responses``
        when the caller has read them (``user_words.read_message``); by default they are read here."""
        trace: list[dict] = []
        if self.mode == "confirm":
            levels = self._levels(self._confirmed(user_responses, trace, wishes))
        else:
            levels = self._descended(user_responses, trace)
        picked = facts.session_preferences(self.tree, [node for level in levels for node in level])
        return dspy.Prediction(levels=levels, preferences=self._deepest(picked), trace=trace)

    # -- "confirm": similarity proposes, one LM call confirms --------------------------------------
    def proposals(self, text: str, wishes: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """(attribute node, cosine) proposed for ``text`` (or for its ``wishes`` when the caller read them):
        round r holds the r-th best of every wish phrase (all of them together last), at least
        ``min_similarity``, repeats dropped, at most ``max_options``."""
        ids, names = self.names.ids, self.names.vectors
        wishes = user_wishes(text) if wishes is None else list(wishes)
        # Each word of a many-word phrase proposes too: "funny animated kids" names three attributes, and
        # as one phrase it was nearest to a single one (hand-written requests: the proposals held an
        # accepted attribute for 29/34, 31/33, 30/34 with words vs 27/34, 26/33, 28/34 without).
        # Not for a phrase that is a name as it stands, by its words or with the others: "Steam Achievements"
        # proposed "Steam Machine", "Strategy and Single-player" "Multi-player" (development openers: 139 of
        # Steam's 171 proposals came by the words, and the target held 22 of them; Beauty's 90 of 90, and 0).
        unnamed = [wish for wish in wishes if words(wish) not in self.names.by_words]
        words_of = [word for wish in unnamed if " " in wish for word in wish.split()]
        queries = [*wishes, *words_of, *([" ".join(wishes)] if unnamed else [])]
        if not len(ids) or not wishes:
            return []
        similarity = self.embedder.encode(queries) @ names.T
        ranked = np.argsort(-similarity, axis=1, kind="stable")[:, : self.per_phrase]
        chosen: dict[int, float] = {}
        for column in ranked.T:
            for row, best in enumerate(column):
                node, value = int(ids[best]), float(similarity[row, best])
                if value >= self.min_similarity and (node in chosen or len(chosen) < self.max_options):
                    chosen[node] = max(chosen.get(node, value), value)  # the best any query gave it
        return list(chosen.items())

    def _confirmed(self, text: str, trace: list[dict], wishes: Sequence[str] | None = None) -> list[int]:
        wishes = user_wishes(text) if wishes is None else list(wishes)
        # A wish that is an attribute's name as it stands ("horror", "time travel") needs no confirming: only
        # the other proposals are asked about.
        said = {self.names.by_words[words(wish)] for wish in wishes if words(wish) in self.names.by_words}
        proposed = [(node, similarity) for node, similarity in self.proposals(text, wishes) if node not in said]
        if not proposed:
            trace.append({"step": "confirm", "status": "ok", "errors": [],
                          "note": ("every proposal is a name the user said: no LM call" if said
                                   else "no attribute similar enough to propose: no LM call")})
            return sorted(said)
        shown = [node for node, _ in proposed]
        # A small model copies a list pattern ("[1, 2, 3]" for one option): numbers past the list are
        # dropped when some are in it, rather than paying for a retry that repeats the prompt.
        picks = guarded_call(
            self.confirm, lambda p: valid_numbers([n for n in p.selected if 1 <= n <= len(shown)] or p.selected, len(shown)),
            lambda: [n for n, (_, similarity) in enumerate(proposed) if similarity >= self.accept_similarity],
            trace, "confirm",
            user_responses=text, nodes=[f"{n}. {self.tree.path(node)}" for n, node in enumerate(shown, start=1)],
        )
        return [*sorted(said), *(shown[p] for p in picks)]

    def _levels(self, nodes: list[int]) -> list[list[int]]:
        """Each node's path, root left out, as the nodes per level (category, subcategory, …)."""
        levels: list[list[int]] = []
        for node in nodes:
            for depth, on_path in enumerate(reversed([node, *self.tree.ancestors(node)][:-1])):
                if depth == len(levels):
                    levels.append([])
                if on_path not in levels[depth]:
                    levels[depth].append(on_path)
        return levels

    # -- "levelwise": the paper's descent, one LM call per level -----------------------------------
    def _descended(self, user_responses: str, trace: list[dict]) -> list[list[int]]:
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
        return levels

    def _prerank(self, children: list[int], query: np.ndarray) -> list[int]:
        """The ``top_children`` most similar children, best first even when all are shown: a small LM
        favours the first option (on the similarity-clustered tree, shown in tree order, most descents
        went into its first category)."""
        return [children[i] for i in top_k_similar(query, self.vectors[children], self.top_children)]

    def _deepest(self, picked: list[int]) -> list[int]:
        """Picked nodes with no picked descendant: a deeper pick refines its ancestor."""
        parents = {self.tree.nodes[node].parent for node in picked}
        return [node for node in picked if node not in parents]
