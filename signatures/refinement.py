"""Signature 5: preference-aware refinement of the tool's candidates (paper eq. 7)."""
from __future__ import annotations

import dspy

from afirs_dspy.signatures.preferences import UserPreferences


class RefineCandidates(dspy.Signature):
    """Given the user preferences and candidate items, select the top k items that best match
    the user's preferences. Answer with candidate numbers, best first."""

    preferences: UserPreferences = dspy.InputField()
    candidates: list[str] = dspy.InputField(desc="numbered items: 'number. title — attributes'")
    k: int = dspy.InputField(desc="how many to select")
    selected: list[int] = dspy.OutputField(desc="k candidate numbers, best first")


class RerankShortlist(RefineCandidates):
    """The candidates are already ordered by a computed match to the user's preferences (the
    preferences each item carries, the similarity of its text to the likes). Select the top k items
    that best match the user's preferences, best first, by candidate number. Move an item up only
    when it fits the likes better than the items above it, and leave out items that hold a dislike."""
