"""LLMCRS-style baseline (Feng et al. 2023; paper 5.1.3): the LM decides from the dialogue, then
calls the recommender — here plain SASRec ranking over the whole corpus, without the user's
stated preferences — and refines the top 50. A re-implementation of the behaviour the paper
describes, not the authors' code."""
from __future__ import annotations

from afirs_dspy.programs.decision_first_agent import DecisionFirstAgent


class LLMCRS(DecisionFirstAgent):
    def retrieve(self, user_text: str, history: list[int], trace: list[dict], exclude: list[int]) -> tuple[list[int], list[str]]:
        recommendation = self.tool.recommend(history, None, k=self.n_candidates, exclude_items=exclude)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        return list(recommendation.items), []
