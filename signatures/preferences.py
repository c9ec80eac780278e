"""Signature 4: structured user preferences from the conversation (paper eq. 6)."""
from __future__ import annotations

import dspy
from pydantic import BaseModel, Field


class UserPreferences(BaseModel):
    likes: list[str] = Field(default_factory=list, description="short phrases the user wants")
    dislikes: list[str] = Field(default_factory=list, description="short phrases the user does not want")
    constraints: list[str] = Field(default_factory=list, description="hard requirements, e.g. 'released after 2010'")

    def render(self) -> str:
        parts = [f"{name}: {', '.join(values)}" for name, values in self.model_dump().items() if values]
        return "; ".join(parts) or "nothing stated yet"


class SummarizePreferences(dspy.Signature):
    """Given the past conversation between the user and the recommender, infer the user's
    preferences in a structured way. Use short phrases taken from what the user said."""

    conversation: str = dspy.InputField()
    preferences: UserPreferences = dspy.OutputField()
