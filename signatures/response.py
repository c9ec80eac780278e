"""Signature 8: the natural-language reply for the chosen action."""
from __future__ import annotations

from typing import Literal

import dspy


class WriteResponse(dspy.Signature):
    """Write the recommender's reply to the user in one or two friendly sentences: present the
    recommended items by their titles, or ask the question."""

    conversation: str = dspy.InputField()
    action: Literal["recommend", "ask"] = dspy.InputField()
    content: str = dspy.InputField(desc="the items to recommend, or the question to ask")
    reply: str = dspy.OutputField()
