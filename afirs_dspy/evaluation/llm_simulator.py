"""The paper's LLM user simulator (5.1.2, Figure 4) around ``SimulateUser``, with a leakage guard.

The simulator's LM is its own (``--sim-lm``), set with ``dspy.context`` around each of its calls, so it
never answers for the program. Acceptance is decided by ids: the LM is told whether the last turn
recommended the target (``target_recommended``) and the session loop checks the ids itself.

Leakage guard (as in iEvaLM and InteRecAgent): an output that names the target title (fuzzy match,
``afirs_dspy.evaluation.leakage``) is regenerated, at most ``max_regenerations`` times with a fresh
rollout at temperature 1.0; if it still names it, the title is stripped. ``stats`` counts leaking
outputs, regenerations and stripped replies. Outputs that fail to parse also take a new attempt (same
bound); with none parsable the reply is a neutral fallback text (counted as a fallback).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import dspy
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.artifacts.context import ProgramContext
from afirs_dspy.evaluation.leakage import THRESHOLD, names_title, strip_title
from afirs_dspy.evaluation.simulator_base import END, SessionCase, SimulatorState, recommends_target
from afirs_dspy.evaluation.speakable import MIN_SUPPORT, SpeakableAttributes
from afirs_dspy.signatures.simulator import SimulateUser

FALLBACK_OPENER = "Can you recommend something for me?"
FALLBACK_REPLY = "Hmm, I'm not sure. Could you suggest something else?"
# DSPy's field headers, which a small LM sometimes writes into the reply itself ("… [[ ## completed ## ]]").
_FIELD_MARKER = re.compile(r"\s*\[\[\s*##\s*\w+\s*##\s*\]\]\s*")


def without_field_markers(text: str) -> str:
    return _FIELD_MARKER.sub(" ", text).strip()


def conversation_as_user(dialogue: list[dict]) -> str:
    """The chat as the simulated user sees it: its own lines as "You"."""
    return "\n".join(f"{'You' if t['role'] == 'user' else 'Recommender'}: {t['content']}" for t in dialogue)


def target_info(speakable: SpeakableAttributes, item: int) -> str:
    """What the simulated user knows of its target, as a person would: the attributes enough items share to
    be said (``speakable``: none that names the title or only a few items hold) and the description with every
    form of the title taken out. The title itself is never given."""
    catalog = speakable.catalog
    attributes = ", ".join(speakable.of(item))
    info = f"Attributes: {attributes}." if attributes else ""
    description = strip_title(catalog.descriptions[item].strip(), catalog.titles[item], placeholder="this one")
    if description:
        info += f" Description: {description}"
    return info.strip() or "(no further information)"


class LLMSimulator(SimulatorState):
    name = "llm"

    def __init__(self, case: SessionCase, context: ProgramContext, lm: dspy.LM, speakable: SpeakableAttributes,
                 history_shown: int = 10, max_regenerations: int = 2, threshold: float = THRESHOLD):
        super().__init__()
        self.lm = lm
        self.title = context.catalog.titles[case.target]
        self.case = case
        self.max_regenerations = max_regenerations
        self.threshold = threshold
        self.predict = dspy.Predict(SimulateUser)
        self.inputs = {
            "domain": context.domain,
            "history": [context.catalog.titles[i] for i in case.history[-history_shown:]],
            "target_info": target_info(speakable, case.target),
        }

    def open(self) -> str:
        reply = self._generate("", "", False, FALLBACK_OPENER)
        return reply.replace(END, "").strip() or FALLBACK_OPENER

    def respond(self, turn: Mapping, dialogue: list[dict]) -> str:
        reply = self._generate(conversation_as_user(dialogue[:-1]), dialogue[-1]["content"],
                               recommends_target(turn, self.case.target), FALLBACK_REPLY)
        if END in reply:
            self.ended = True
            reply = reply.replace(END, "").strip() or END
        return reply

    def _generate(self, conversation: str, message: str, recommended: bool, fallback: str) -> str:
        """One reply in at most ``1 + max_regenerations`` LM calls: a reply naming the title or failing to
        parse is generated again (fresh rollout); the last leaking reply is stripped, else ``fallback``."""
        errors: list[str] = []
        leaked: str | None = None
        attempts = 1 + self.max_regenerations
        for attempt in range(attempts):
            retry = {"config": {"rollout_id": attempt, "temperature": 1.0}} if attempt else {}
            try:
                with dspy.context(lm=self.lm):
                    reply = without_field_markers(self.predict(
                        **self.inputs, conversation=conversation, recommender_message=message,
                        target_recommended=recommended, **retry).reply)
            except AdapterParseError as exc:
                self.stats.parse_failures += 1
                errors.append(f"AdapterParseError: {str(exc).splitlines()[0][:200]}")
                continue
            if not names_title(reply, self.title, self.threshold):
                self._record("retried" if errors else "ok", errors)
                return reply
            self.stats.leaks += 1
            self.stats.regenerations += int(attempt + 1 < attempts)
            errors.append("the reply names the target title")
            leaked = reply
        if leaked is not None:
            self.stats.stripped += 1
            self._record("fallback", errors, "title stripped from the last reply")
            return strip_title(leaked, self.title, self.threshold)
        self.stats.fallbacks += 1
        self._record("fallback", errors, "no parsable reply: fallback text")
        return fallback

    def _record(self, status: str, errors: list[str], note: str = "") -> None:
        self.trace = [{"step": "simulate", "status": status, "errors": errors, **({"note": note} if note else {})}]


class LLMSimulators:
    """``factory(case)`` → a fresh LLMSimulator using ``lm``."""

    name = "llm"

    def __init__(self, context: ProgramContext, lm: dspy.LM, min_support: int = MIN_SUPPORT, **options):
        self.context = context
        self.lm = lm
        self.speakable = SpeakableAttributes(context.catalog, min_support)
        self.options = options

    def __call__(self, case: SessionCase) -> LLMSimulator:
        return LLMSimulator(case, self.context, self.lm, self.speakable, **self.options)
