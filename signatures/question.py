"""Signature 7: the information-maximizing clarification question (paper section 4.2.2)."""
from __future__ import annotations

import dspy

from afirs_dspy.signatures.preferences import UserPreferences


class AskQuestion(dspy.Signature):
    """Write one short clarification question for the user. Ask about the aspect whose options
    split the candidate items most evenly and that the user has not stated yet, offering two or
    three of its options. Do not name specific items."""

    preferences: UserPreferences = dspy.InputField()
    candidate_distribution: str = dspy.InputField(desc="aspects that split the candidates, with counts")
    question: str = dspy.OutputField()
