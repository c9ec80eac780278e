"""Signature 4: structured user preferences from the conversation (paper eq. 6)."""
from __future__ import annotations

import dspy
from pydantic import BaseModel, Field


class UserPreferences(BaseModel):
    # No example values in the descriptions: a small model copies them into its answer (issue 15).
    likes: list[str] = Field(default_factory=list, description="what the user asked for, in the user's words")
    dislikes: list[str] = Field(default_factory=list,
                                description="what the user said they do not want, in the user's words")
    constraints: list[str] = Field(default_factory=list,
                                   description="hard requirements the user stated; empty when the user stated none")

    def render(self) -> str:
        parts = [f"{name}: {', '.join(values)}" for name, values in self.model_dump().items() if values]
        return "; ".join(parts) or "nothing stated yet"


class SummarizePreferences(dspy.Signature):
    """Given the past conversation between the user and the recommender, infer the user's
    preferences in a structured way. Copy short phrases from what the user said; a thing the user
    asks for is a like, a thing the user refuses ("not …", "no …", "without …") is a dislike; leave
    a list empty when the user said nothing for it."""

    conversation: str = dspy.InputField()
    preferences: UserPreferences = dspy.OutputField()
