"""What a conversation has already settled, read from its text alone: the tree options the user named
(wanted or rejected) and the aspects the recommender has asked about.

Programs are stateless per call and receive only ``[{"role", "content"}]``, so the asked aspect must be
recoverable from the words the program wrote. Every question the program asks names options of its
aspect (the decision stage validates this), and :func:`asked_aspects` maps a question back to the aspect
whose options it names most. The same reading works for any client that passes the dialogue back: the
evaluator, ``afirs-dspy chat``, or a person's own loop.

An aspect is a subcategory of the tree (level 2); its options are its attributes (level 3). Names are
matched on normalised words (case, punctuation and a plural "s" ignored), longest name first, so
"science fiction" is not also read as "fiction"; attributes said alike (the genre "Drama", the tag
"drama") are one name. A name is rejected when a negation ("not", "no", "without", "n't", …) precedes
it in the same clause.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.text.user_words import CLAUSE_BREAK, NEGATIONS, words

ASPECT_LEVEL = ATTRIBUTE_LEVEL - 1


@dataclass(frozen=True)
class OptionNames:
    """The tree's attribute names as word tuples → attribute node ids (several attributes may be said
    alike, e.g. the genre "Drama" and the tag "drama"), and each sayable attribute's aspect and words."""

    by_words: dict[tuple[str, ...], tuple[int, ...]]
    longest: int
    aspect: dict[int, int]
    key: dict[int, tuple[str, ...]]

    def find(self, text: str) -> list[tuple[int, bool]]:
        """(attribute node, negated) for every name in ``text``, in order of appearance."""
        found: list[tuple[int, bool]] = []
        for clause in CLAUSE_BREAK.split(text):
            tokens = words(clause)
            start = 0
            while start < len(tokens):
                for size in range(min(self.longest, len(tokens) - start), 0, -1):
                    nodes = self.by_words.get(tokens[start : start + size])
                    if nodes:
                        negated = any(t in NEGATIONS for t in tokens[:start])
                        found += [(node, negated) for node in nodes]
                        start += size
                        break
                else:
                    start += 1
        return found


@lru_cache(maxsize=8)
def option_names(tree: PreferenceTree) -> OptionNames:
    """Sayable attributes only: a name with a word in it that is not the catalog's own (the root's, e.g. a
    "movies" tag, which every request says); the others are never offered as options either."""
    by_words: dict[tuple[str, ...], list[int]] = {}
    key = {}
    for node in tree.attribute_nodes():
        said = words(node.name)
        if said and said != words(tree.root.name):
            by_words.setdefault(said, []).append(node.id)
            key[node.id] = said
    return OptionNames({k: tuple(v) for k, v in by_words.items()}, max(map(len, by_words), default=0),
                       {node: tree.nodes[node].parent for node in key}, key)


def aspect_of(tree: PreferenceTree, node: int) -> int | None:
    """The subcategory at or above ``node`` (None above that level)."""
    while tree.nodes[node].level > ASPECT_LEVEL:
        node = tree.nodes[node].parent
    return node if tree.nodes[node].level == ASPECT_LEVEL else None


def asked_aspects(tree: PreferenceTree, question: str) -> frozenset[int]:
    """The aspects a question is about: those whose options it names most (ties: all of them)."""
    names = option_names(tree)
    counts = Counter(aspect for aspect, _ in {(names.aspect[node], names.key[node]) for node, _ in names.find(question)})
    top = max(counts.values(), default=0)
    return frozenset(aspect for aspect, count in counts.items() if count == top)


@dataclass(frozen=True)
class ConversationFacts:
    """``asked``: aspects the recommender asked about; ``stated`` / ``rejected``: attributes the user
    named as wanted / after a negation (the latest mention of an option decides)."""

    asked: frozenset[int] = frozenset()
    stated: frozenset[int] = frozenset()
    rejected: frozenset[int] = frozenset()

    def settled_aspects(self, tree: PreferenceTree, preference_nodes: list[int] = ()) -> frozenset[int]:
        """Aspects not worth asking about: asked already, or where the user said what they want (by naming
        an option, or as the extracted preferences place them at an option or below; picking the aspect
        itself says the user cares about it, not which option they want)."""
        picked = [node for node in preference_nodes if tree.nodes[node].level >= ATTRIBUTE_LEVEL]
        named = {aspect_of(tree, node) for node in (*self.stated, *picked)}
        return frozenset((named - {None}) | self.asked)

    def session_preferences(self, tree: PreferenceTree, picked: list[int]) -> list[int]:
        """The extraction's ``picked`` nodes less those at or under an option the user rejected, then the
        options the user named within the aspects in play — those the extraction picked from and those the
        recommender asked about — so "Drama and Musical" answering a genre question yields both (the
        extraction keeps one node per level)."""
        kept = [node for node in picked if not self.rejected & {node, *tree.ancestors(node)}]
        in_play = {aspect_of(tree, node) for node in picked} | self.asked
        names = option_names(tree)
        added: dict[tuple[str, ...], int] = {names.key[node]: node for node in kept if node in names.key}
        for node in sorted(self.stated, key=lambda n: -len(tree.node_items(n))):
            # Of the attributes said alike, the LM's pick, else the largest (a genre over its namesake tag).
            if aspect_of(tree, node) in in_play:
                added.setdefault(names.key[node], node)
        return [*kept, *sorted(set(added.values()) - set(kept))]


def read_conversation(tree: PreferenceTree, dialogue: list[dict]) -> ConversationFacts:
    """The facts of a ``[{"role", "content"}]`` dialogue. Only assistant turns with a "?" can have asked."""
    names = option_names(tree)
    asked: set[int] = set()
    negated: dict[int, bool] = {}
    for turn in dialogue:
        if turn["role"] == "user":
            negated.update(names.find(turn["content"]))
        elif "?" in turn["content"]:
            asked |= asked_aspects(tree, turn["content"])
    return ConversationFacts(frozenset(asked), frozenset(n for n, no in negated.items() if not no),
                             frozenset(n for n, no in negated.items() if no))
