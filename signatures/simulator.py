"""The LLM user simulator of the evaluation (paper 5.1.2, Figure 4's prompt, adapted to typed fields).

Not part of the recommender: ``afirs_dspy.evaluation.llm_simulator`` wraps it with a leakage guard.
"""
from __future__ import annotations

import dspy


class SimulateUser(dspy.Signature):
    """You are a user chatting with a recommender for the given domain, taking turns. Your history
    is the items you interacted with before. You are looking for one item, your target: you know it
    only by target_info, as a person knows what they are in the mood for, not by its title.

    Follow these rules during the chat:
    - If the recommender recommends your target (target_recommended is true), accept.
    - If your target is not among the recommended items, refuse.
    - If the recommender asks about your preferences, answer with the corresponding facts about
      your target.
    - Never name a specific title.

    Reply to recommender_message; when it is empty, you speak first: say what you are looking
    for. Your reply is only the words of the user you play. If you think the conversation
    has come to an end, output <END>."""

    domain: str = dspy.InputField()
    history: list[str] = dspy.InputField(desc="titles of the items you interacted with before, oldest first")
    target_info: str = dspy.InputField(desc="what you know about your target: its attributes and a description")
    conversation: str = dspy.InputField(desc="the chat before recommender_message ('You' is you)")
    recommender_message: str = dspy.InputField(desc="the message to reply to now; empty when you speak first")
    target_recommended: bool = dspy.InputField(desc="whether recommender_message recommends your target")
    reply: str = dspy.OutputField(desc="only the user's words, or <END>")
