"""A deterministic user simulator with no LM: it speaks in templates about the target's attributes.

The user knows only the target's *speakable* attributes (``speakable.py``: shared by at least
``min_support`` items, no part of the title). It opens with a request that leaves a choice: at most
``n_open`` attributes, which at least ``min_open_items`` items the user has not had hold together (more than
the 50 candidates a tool passes, so the opener alone never pins the target; a target with no such
attributes opens with fewer, or none). After that it reveals one attribute at a time, from general to
specific (the most items first): answering a question with the one most related to it (embedding
similarity between the question and the plain attribute text, plus a bonus for an attribute the question
names), refusing a recommendation with the most general one left. It accepts when the target is among the
recommended ids: a cooperative user, whom the conversation has to narrow down.
It reads no method's artifacts (no tree, no node vectors), so no method's structure shapes its answers.

It makes runs fast, repeatable and free. Its limits: templated language (a handful of phrasings,
chosen by a per-session seed), no paraphrase, no vagueness, no change of mind, and it only knows the
catalog's attributes (genres and tags), not descriptions; methods whose questions use the catalog's
attribute words are easier for it to answer than others. Numbers obtained with it are not comparable
to the paper's LLM simulator; use ``--simulator llm`` for that.
"""
from __future__ import annotations

import random
import re
from itertools import combinations
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.artifacts.context import ProgramContext
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.evaluation.leakage import names_title, strip_title
from afirs_dspy.evaluation.simulator_base import SessionCase, SimulatorState, recommends_target
from afirs_dspy.evaluation.speakable import MIN_SUPPORT, SpeakableAttributes

EXACT = 1.0  # title-matching threshold for the simulator's own text
OPENERS = (
    "Can you recommend some {domain}? I'd like something {attributes}.",
    "I'm in the mood for {domain} with these traits: {attributes}.",
    "Looking for {domain}. Keywords: {attributes}.",
    "Please suggest {domain} that fit this: {attributes}.",
)
ANSWERS = (
    "I'd like it to be {attributes}.",
    "Something {attributes}, please.",
    "It should have this: {attributes}.",
    "{attributes} would be ideal.",
)
REFUSALS = (
    "No, none of those is what I'm after. It should also be {attributes}.",
    "Not quite. I'm looking for something {attributes}.",
    "Those don't fit. Think {attributes}.",
)
NOTHING_NEW = (
    "No, none of those is it.",
    "Not what I want, sorry.",
)
ACCEPTS = (
    "Yes, that's exactly what I was looking for!",
    "Great, I'll take that one.",
)


def spoken_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _named_in(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", text.casefold()) is not None


@dataclass(frozen=True)
class AttributeSimulatorConfig:
    """``min_support``: an attribute is speakable only when at least this many items carry it; at most
    ``n_open`` attributes open the chat, which at least ``min_open_items`` unseen items must hold together;
    ``n_answer`` answer a question; ``general_first``: after the opener, the attributes with the most items
    come first (else the session's seeded order). ``BEFORE_ISSUE_32`` is the protocol as it was."""

    min_support: int = MIN_SUPPORT
    n_open: int = 2
    n_answer: int = 1
    min_open_items: int = 51  # more than the 50 candidates the tool passes on (issue 32)
    general_first: bool = True


# The protocol before issue 32: the first two attributes of the seeded order open whatever they leave, two
# answer a question, refusals follow the seeded order.
BEFORE_ISSUE_32 = AttributeSimulatorConfig(n_answer=2, min_open_items=0, general_first=False)


class AttributeWorld:
    """What all attribute simulators of a run share: the catalog's speakable attributes, the domain
    word and the embedder (used on plain attribute text only)."""

    def __init__(self, catalog: Catalog, domain: str, embedder: TextEmbedder, config: AttributeSimulatorConfig):
        self.catalog = catalog
        self.domain = domain
        self.embedder = embedder
        self.config = config
        self.speakable = SpeakableAttributes(catalog, config.min_support)
        self._vectors: dict[str, np.ndarray] = {}  # every session of every method meets the same texts again
        self._holders: dict[str, np.ndarray] = {}  # attribute (case ignored) → which item ids hold it

    def holders(self, attribute: str) -> np.ndarray:
        """Boolean mask over item ids 0..n: the items that hold ``attribute`` (case ignored)."""
        key = attribute.casefold()
        if key not in self._holders:
            mask = np.zeros(len(self.catalog) + 1, dtype=bool)
            mask[[i for i, attrs in enumerate(self.catalog.attributes) if key in {a.casefold() for a in attrs}]] = True
            self._holders[key] = mask
        return self._holders[key]

    def items_left(self, attributes: list[str], history: tuple[int, ...]) -> int:
        """How many items the user has not had hold every one of ``attributes``."""
        mask = np.ones(len(self.catalog) + 1, dtype=bool)
        mask[0] = False
        mask[list(history)] = False
        for attribute in attributes:
            mask &= self.holders(attribute)
        return int(mask.sum())

    def speaking_order(self, shuffled: list[str], history: tuple[int, ...]) -> tuple[list[str], list[str]]:
        """(the opener, the rest from general to specific). The opener: the first pair in ``shuffled``'s order
        that enough unseen items hold together (``min_open_items``), else the first single attribute, else
        none; at most ``n_open`` attributes."""
        enough = self.config.min_open_items
        opener: list[str] = []
        for size in range(min(self.config.n_open, len(shuffled)), 0, -1):
            opener = next((list(group) for group in combinations(shuffled, size)
                           if self.items_left(list(group), history) >= enough), [])
            if opener:
                break
        rest = [a for a in shuffled if a not in opener]
        if self.config.general_first:
            rest.sort(key=lambda a: -self.speakable.support[a.casefold()])
        return opener, rest

    def encode(self, texts: list[str]) -> np.ndarray:
        """``embedder.encode(texts)``, each text encoded once per run."""
        new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if new:
            self._vectors.update(zip(new, self.embedder.encode(new)))
        return np.stack([self._vectors[t] for t in texts])


class AttributeSimulator(SimulatorState):
    """One session's user, speaking the target's speakable attributes in a seeded order."""

    name = "attribute"

    def __init__(self, case: SessionCase, world: AttributeWorld, seed: int):
        super().__init__()
        self.case = case
        self.world = world
        self.n_open = world.config.n_open
        self.n_answer = world.config.n_answer
        self.rng = random.Random(f"{seed}:{case.user}")
        shuffled = world.speakable.of(case.target)
        self.rng.shuffle(shuffled)
        self.opener, rest = world.speaking_order(shuffled, case.history)
        self.order = [*self.opener, *rest]  # what is said next on a refusal: the most general left
        self.revealed: list[str] = []

    def _reveal(self, names: list[str]) -> list[str]:
        self.revealed += [n for n in names if n not in self.revealed]
        return names

    def _unrevealed(self) -> list[str]:
        return [a for a in self.order if a not in self.revealed]

    def _say(self, templates: tuple[str, ...], **slots) -> str:
        text = self.rng.choice(templates).format(**slots)
        self.trace = [{"step": "simulate", "status": "ok"}]
        title = self.world.catalog.titles[self.case.target]
        # Templated text has no typos: only the exact title counts (fuzzy matching would take
        # "… and Simulation" for "Hand Simulator"). Attributes that together spell it are never said.
        if names_title(text, title, EXACT):
            self.stats.leaks += 1
            self.stats.stripped += 1
            text = strip_title(text, title, EXACT)
            self.trace = [{"step": "simulate", "status": "fallback", "note": "title stripped"}]
        return text[0].upper() + text[1:]

    def open(self) -> str:
        shown = self._reveal(self.opener)
        if not shown:
            return self._say(("Can you recommend some {domain}?",), domain=self.world.domain)
        return self._say(OPENERS, domain=self.world.domain, attributes=spoken_list(shown))

    def respond(self, turn: Mapping, dialogue: list[dict]) -> str:
        if recommends_target(turn, self.case.target):
            return self._say(ACCEPTS)
        if turn["action"] == "recommend":
            more = self._reveal(self._unrevealed()[:1])
            return self._say(REFUSALS, attributes=spoken_list(more)) if more else self._say(NOTHING_NEW)
        return self.answer(turn["question"] or dialogue[-1]["content"])

    def answer(self, question: str) -> str:
        ranked = self.ranked(question)
        fresh = [a for a in ranked if a not in self.revealed][: self.n_answer]
        shown = self._reveal(fresh) or ranked[: self.n_answer]  # all said already: repeat the most related
        return self._say(ANSWERS, attributes=spoken_list(shown)) if shown else self._say(NOTHING_NEW)

    def ranked(self, question: str) -> list[str]:
        """The target's attributes, most related to ``question`` first (ties keep the session's order)."""
        if not self.order:
            return []
        query = self.world.encode([question])[0]
        named = np.array([1.0 if _named_in(question, a) else 0.0 for a in self.order])
        scores = self.world.encode(self.order) @ query + named
        return [self.order[i] for i in np.argsort(-scores, kind="stable")]


class AttributeSimulators:
    """``factory(case)`` → a fresh AttributeSimulator; seeded from (``seed``, user), so every method meets
    the same user saying the same things in reply to the same turns."""

    name = "attribute"

    def __init__(self, context: ProgramContext, seed: int = 0, config: AttributeSimulatorConfig | None = None):
        self.world = AttributeWorld(context.catalog, context.domain, context.embedder,
                                    config or AttributeSimulatorConfig())
        self.seed = seed

    def __call__(self, case: SessionCase) -> AttributeSimulator:
        return AttributeSimulator(case, self.world, self.seed)
