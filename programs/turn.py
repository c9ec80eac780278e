"""The per-turn output every program returns, so the evaluator treats them alike."""
from __future__ import annotations

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.programs.dialogue import RECOMMENDATION_PREFIX, valid_unicode

GENERIC_QUESTION = "Could you tell me more about what you are looking for?"


def template_reply(action: str, titles: list[str], question: str) -> str:
    if action == "recommend":
        return RECOMMENDATION_PREFIX + "; ".join(titles) + "."
    return question


def finish_turn(catalog: Catalog, action: str, items: list[int], question: str, trace: list[dict],
                **details) -> dspy.Prediction:
    """Prediction(action, items, question, reply, **details). Recommending nothing becomes asking,
    an empty question becomes the generic one; both are recorded in ``trace``."""
    if action == "recommend" and not items:
        action = "ask"
        trace.append({"step": "finish", "status": "fallback", "errors": ["nothing to recommend: asking"]})
    question = (valid_unicode(question).strip() or GENERIC_QUESTION) if action == "ask" else ""
    shown = list(items) if action == "recommend" else []
    reply = template_reply(action, [catalog.titles[i] for i in shown], question)
    return dspy.Prediction(action=action, items=shown, question=question, reply=reply, trace=trace, **details)
