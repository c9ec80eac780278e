"""The decision stage (paper 4.2): recommend the pre-selected items or ask an
information-maximizing question built on how the candidates split over the tree."""
from __future__ import annotations

import dspy

from afirs_dspy.candidate_distribution import Aspect, split_aspects
from afirs_dspy.preference_tree import PreferenceTree
from afirs_dspy.programs.guarded import guarded_call, non_empty
from afirs_dspy.programs.turn import GENERIC_QUESTION
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import AskQuestion, DecideAction, DecideFromConversation, UserPreferences


def fallback_question(aspects: list[Aspect]) -> str:
    """A template question about the best-splitting aspect (used when the LM's output is unusable)."""
    if not aspects or not aspects[0].options:
        return GENERIC_QUESTION
    names = [name for name, _ in aspects[0].options[:3]]
    listed = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
    return f"Do you have a preference regarding {aspects[0].path.split(' > ')[-1].lower()}, such as {listed}?"


class DecisionStage(dspy.Module):
    """Called step by step (``choose``, then ``question`` when asking), so the program can put
    the decision before or after the action stage."""

    def __init__(self, tree: PreferenceTree):
        super().__init__()
        self.tree = tree
        self.decide = predictor(DecideAction)
        self.decide_first = predictor(DecideFromConversation)
        self.ask = predictor(AskQuestion)

    def choose(self, conversation: str, items: list[str] | None, trace: list[dict]) -> str:
        """recommend | ask: from the conversation and the items (action first), or from the
        conversation alone when ``items`` is None (decision first). Unusable output → ask."""
        if items is None:
            return guarded_call(self.decide_first, lambda p: p.action, lambda: "ask", trace, "decide",
                                conversation=conversation)
        return guarded_call(self.decide, lambda p: p.action, lambda: "ask", trace, "decide",
                            conversation=conversation, items=items)

    def question(self, preferences: UserPreferences, candidates: list[int], trace: list[dict]) -> str:
        aspects = split_aspects(self.tree, candidates)
        distribution = "\n".join(a.render() for a in aspects) or "no aspect splits the candidates"
        return guarded_call(
            self.ask, lambda p: non_empty(p.question), lambda: fallback_question(aspects), trace, "ask",
            preferences=preferences, candidate_distribution=distribution,
        )
