"""Signature 7: the information-maximizing clarification question (paper section 4.2.2)."""
from __future__ import annotations

import dspy

from afirs_dspy.signatures.preferences import UserPreferences


class AskQuestion(dspy.Signature):
    """Write one short clarification question for the user about the aspect given, offering two
    or three of its options by name. Ask about nothing else and do not name specific items."""

    preferences: UserPreferences = dspy.InputField()
    candidate_distribution: str = dspy.InputField(desc="the aspect to ask about: its options, with how many candidates have each")
    question: str = dspy.OutputField()
