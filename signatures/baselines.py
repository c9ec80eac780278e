"""Signatures of the baselines of the paper's section 5.1.3 (re-implementations, see programs/)."""
from __future__ import annotations

from typing import Literal

import dspy


class ZeroShotTurn(dspy.Signature):
    """You are a recommender talking with a user. Either recommend up to k items by their exact
    titles from your own knowledge, or ask one clarification question when you need to know more."""

    domain: str = dspy.InputField()
    history: list[str] = dspy.InputField(desc="items the user interacted with before, oldest first")
    conversation: str = dspy.InputField()
    k: int = dspy.InputField()
    action: Literal["recommend", "ask"] = dspy.OutputField()
    titles: list[str] = dspy.OutputField(desc="exact titles when recommending, else []")
    question: str = dspy.OutputField(desc="the question when asking, else ''")


class AgentTurn(dspy.Signature):
    """You are a recommender talking with a user. Use the tools to find items that match the
    conversation and the user's history. Then either recommend up to k items by the ids the tools
    returned, or ask one clarification question."""

    conversation: str = dspy.InputField()
    k: int = dspy.InputField()
    action: Literal["recommend", "ask"] = dspy.OutputField()
    item_ids: list[int] = dspy.OutputField(desc="ids from tool results when recommending, else []")
    question: str = dspy.OutputField(desc="the question when asking, else ''")


class ExtractAttributeFilter(dspy.Signature):
    """Turn the user's requests into a hard filter over the catalog's predefined attributes: the
    attributes the items must have and those they must not have, copied from the list. Use only
    attributes the user clearly asked for or ruled out."""

    # Names, not numbers into the list: given numbers, the 1.5B model counted 1..20 into its answer (issue 33).
    user_responses: str = dspy.InputField()
    attributes: list[str] = dspy.InputField(desc="the catalog's attributes closest to the user's words")
    required: list[str] = dspy.OutputField(desc="attributes the user asked for")
    excluded: list[str] = dspy.OutputField(desc="attributes the user ruled out")


class RefineFromConversation(dspy.Signature):
    """Given the conversation and the candidate items, select the top k items that best match what
    the user asked for, leaving out what the user turned down. Answer with candidate numbers, best
    first."""

    conversation: str = dspy.InputField()
    candidates: list[str] = dspy.InputField(desc="numbered items: 'number. title — attributes'")
    k: int = dspy.InputField(desc="how many to select")
    selected: list[int] = dspy.OutputField(desc="k candidate numbers, best first")


class AskFromConversation(dspy.Signature):
    """You are a recommender. Ask the user one short clarification question about what they are
    looking for that the conversation has not answered yet. Do not name specific items."""

    conversation: str = dspy.InputField()
    question: str = dspy.OutputField()
