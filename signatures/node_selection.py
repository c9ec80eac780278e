"""Signatures 3a/3b: session preference extraction (paper eq. 1–2).

``SelectNodes`` picks among a level's children (the paper's level-by-level descent);
``ConfirmPreferences`` confirms, in one call, the attributes that embedding similarity proposed for
the phrases of the user's words. Both answer with numbers into the list shown."""
from __future__ import annotations

import dspy


class SelectNodes(dspy.Signature):
    """Given user responses and a set of preference nodes, identify and select the most relevant
    preference nodes based on the user's expressed preferences. Output the numbers of the selected
    nodes in order of relevance, the most relevant first."""

    user_responses: str = dspy.InputField()
    nodes: list[str] = dspy.InputField(desc="numbered nodes: 'number. path > name'")
    selected: list[int] = dspy.OutputField(desc="node numbers, most relevant first")


class ConfirmPreferences(dspy.Signature):
    """Select every option the user asks for. Leave out options the user does not ask for."""

    user_responses: str = dspy.InputField()
    nodes: list[str] = dspy.InputField(desc="numbered options: 'number. Category > Subcategory > attribute'")
    selected: list[int] = dspy.OutputField(desc="numbers of the options the user asks for")
