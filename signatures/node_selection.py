"""Signature 3: per-level node selection for session preference extraction (paper eq. 1–2)."""
from __future__ import annotations

import dspy


class SelectNodes(dspy.Signature):
    """Given user responses and a set of preference nodes, identify and select the most relevant
    preference nodes based on the user's expressed preferences. Output the numbers of the selected
    nodes in order of relevance, the most relevant first."""

    user_responses: str = dspy.InputField()
    nodes: list[str] = dspy.InputField(desc="numbered nodes: 'number. path > name'")
    selected: list[int] = dspy.OutputField(desc="node numbers, most relevant first")
