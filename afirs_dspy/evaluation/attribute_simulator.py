"""A deterministic user simulator with no LM: it speaks in templates about the target's attributes.

The user opens with a request built from a few of the target's attributes, answers a question by
revealing the target's attributes most related to it (embedding similarity between the question and
the attributes' paths in the preference tree, plus a bonus for attributes the question names), accepts
when the target is among the recommended ids, and otherwise refuses, revealing one more attribute: a
cooperative user. It never names the title (attributes that would name it are never used).

It makes runs fast, repeatable and free. Its limits: templated language (a handful of phrasings,
chosen by a per-session seed), no paraphrase, no vagueness, no change of mind, and it only knows the
catalog's attributes (genres and tags), not descriptions; the program's own tree decides how well its
questions line up with the answers. Numbers obtained with it are not comparable to the paper's LLM
simulator; use ``--simulator llm`` for that.
"""
from __future__ import annotations

import random
import re
from collections.abc import Mapping

import numpy as np

from afirs_dspy.context import ProgramContext
from afirs_dspy.evaluation.leakage import names_title, strip_title
from afirs_dspy.evaluation.simulator_base import SessionCase, SimulatorState, recommends_target

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


class AttributeWorld:
    """What all attribute simulators of a run share: the catalog, the tree's attribute paths, the embedder."""

    def __init__(self, context: ProgramContext):
        self.catalog = context.catalog
        self.domain = context.domain
        self.embedder = context.embedder
        self.paths = {node.name: context.tree.path(node.id) for node in context.tree.attribute_nodes()}

    def attributes_of(self, item: int) -> list[str]:
        """The item's attributes that do not name its title, repeats dropped."""
        title = self.catalog.titles[item]
        return [a for a in dict.fromkeys(self.catalog.attributes[item]) if a.strip() and not names_title(a, title)]


class AttributeSimulator(SimulatorState):
    """One session's user. ``n_open`` attributes open the chat, ``n_answer`` answer a question."""

    name = "attribute"

    def __init__(self, case: SessionCase, world: AttributeWorld, seed: int, n_open: int = 2, n_answer: int = 2):
        super().__init__()
        self.case = case
        self.world = world
        self.n_open = n_open
        self.n_answer = n_answer
        self.rng = random.Random(f"{seed}:{case.user}")
        self.order = world.attributes_of(case.target)
        self.rng.shuffle(self.order)
        self.revealed: list[str] = []
        self._vectors: np.ndarray | None = None

    def _reveal(self, names: list[str]) -> list[str]:
        self.revealed += [n for n in names if n not in self.revealed]
        return names

    def _unrevealed(self) -> list[str]:
        return [a for a in self.order if a not in self.revealed]

    def _say(self, templates: tuple[str, ...], **slots) -> str:
        text = self.rng.choice(templates).format(**slots)
        self.trace = [{"step": "simulate", "status": "ok"}]
        title = self.world.catalog.titles[self.case.target]
        if names_title(text, title):  # attributes that together spell the title: never said
            self.stats.leaks += 1
            self.stats.stripped += 1
            text = strip_title(text, title)
            self.trace = [{"step": "simulate", "status": "fallback", "note": "title stripped"}]
        return text[0].upper() + text[1:]

    def open(self) -> str:
        shown = self._reveal(self.order[: self.n_open])
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
        if self._vectors is None:
            self._vectors = self.world.embedder.encode([self.world.paths.get(a, a) for a in self.order])
        query = self.world.embedder.encode([question])[0]
        scores = self._vectors @ query + np.array([1.0 if _named_in(question, a) else 0.0 for a in self.order])
        return [self.order[i] for i in np.argsort(-scores, kind="stable")]


class AttributeSimulators:
    """``factory(case)`` → a fresh AttributeSimulator; seeded from (``seed``, user), so every method meets
    the same user saying the same things in reply to the same turns."""

    name = "attribute"

    def __init__(self, context: ProgramContext, seed: int = 0, n_open: int = 2, n_answer: int = 2):
        self.world = AttributeWorld(context)
        self.seed = seed
        self.n_open = n_open
        self.n_answer = n_answer

    def __call__(self, case: SessionCase) -> AttributeSimulator:
        return AttributeSimulator(case, self.world, self.seed, self.n_open, self.n_answer)
