"""The per-turn output every program returns, so the evaluator treats them alike."""
from __future__ import annotations

from collections.abc import Collection

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.session import ITEMS, RECOMMENDATION_PREFIX, SESSION, SessionState
from afirs_dspy.programs.dialogue import valid_unicode

GENERIC_QUESTION = "Could you tell me more about what you are looking for?"


def template_reply(action: str, titles: list[str], question: str) -> str:
    if action == "recommend":
        return RECOMMENDATION_PREFIX + "; ".join(titles) + "."
    return question


def finish_turn(catalog: Catalog, action: str, items: list[int], question: str, trace: list[dict],
                rejected: Collection[int] = (), session: SessionState | None = None, **details) -> dspy.Prediction:
    """Prediction(action, items, question, reply, message, **details). ``message`` is the assistant message to
    append to the dialogue: the reply with the ``items`` shown and the ``session`` state the turn acted on.
    An item of ``rejected`` (shown earlier in the session, not taken) is never shown again: the program should
    have left it out, so one that reaches here is dropped and recorded. Recommending nothing becomes asking,
    an empty question becomes the generic one; both are recorded in ``trace``."""
    again = [i for i in items if i in set(rejected)]
    if again:
        items = [i for i in items if i not in set(rejected)]
        trace.append({"step": "finish", "status": "fallback", "errors": [f"{len(again)} rejected items dropped"]})
    if action == "recommend" and not items:
        action = "ask"
        trace.append({"step": "finish", "status": "fallback", "errors": ["nothing to recommend: asking"]})
    question = (valid_unicode(question).strip() or GENERIC_QUESTION) if action == "ask" else ""
    shown = list(items) if action == "recommend" else []
    reply = template_reply(action, [catalog.titles[i] for i in shown], question)
    message = {"role": "assistant", "content": reply, ITEMS: shown}
    if session is not None:
        message[SESSION] = session.as_json()
    return dspy.Prediction(action=action, items=shown, question=question, reply=reply, message=message, trace=trace,
                           **details)
