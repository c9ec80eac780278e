"""Signature 6: the action-aware decision (paper section 4.2.1)."""
from __future__ import annotations

from typing import Literal

import dspy


class DecideAction(dspy.Signature):
    """You are a recommender talking with a user. Decide the next action from the conversation
    and the items you would recommend now. Recommend when these items clearly match what the user
    asked for; ask a clarification question when the user's needs are still unclear or the items
    do not fit them."""

    conversation: str = dspy.InputField()
    items: list[str] = dspy.InputField(desc="the items that would be recommended now")
    reason: str = dspy.OutputField(desc="one short sentence")
    action: Literal["recommend", "ask"] = dspy.OutputField()


class DecideFromEvidence(dspy.Signature):
    """You are a recommender talking with a user. Decide the next action from the conversation,
    the items you would recommend now and the evidence: facts computed from the items' attributes
    (how many carry every preference the user stated, how many match the user's likes or hold a
    dislike). Recommend when the evidence shows that most items carry what the user asked for and
    none holds a dislike; ask a clarification question when few items match or the user has stated
    little."""

    # No ``reason`` output: the evidence is the reasoning, computed in code, and a small model's reason
    # was ~60 generated tokens (~5 s) per turn (bench/results/turn_cost.md).
    conversation: str = dspy.InputField()
    items: list[str] = dspy.InputField(desc="titles of the items that would be recommended now")
    evidence: str = dspy.InputField(desc="computed facts about how the items match the user's preferences")
    action: Literal["recommend", "ask"] = dspy.OutputField()


class DecideFromConversation(dspy.Signature):
    """You are a recommender talking with a user. Decide the next action from the conversation
    alone: recommend when you know enough about what the user wants, otherwise ask a
    clarification question."""

    # No ``reason`` output, as in DecideFromEvidence: a small model's reason was ~45 generated tokens (~5 s) of
    # every decision-first turn (issue 33), and the decisions compared should cost alike.
    conversation: str = dspy.InputField()
    action: Literal["recommend", "ask"] = dspy.OutputField()
