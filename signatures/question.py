"""Signature 7: the information-maximizing clarification question (paper section 4.2.2)."""
from __future__ import annotations

import dspy

from afirs_dspy.signatures.preferences import UserPreferences


class AskQuestion(dspy.Signature):
    """Write one short question that asks the user to choose among the options of the aspect given.
    It must name two or three of those options word for word, like "Would you prefer X, Y or Z?".
    Ask about nothing else and do not name specific items."""

    preferences: UserPreferences = dspy.InputField()
    candidate_distribution: str = dspy.InputField(desc="the aspect to ask about: its options, with how many candidates have each")
    question: str = dspy.OutputField()
