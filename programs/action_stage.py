"""The action stage (paper 4.1): extract session preferences → tool (two-stage filtering) →
summarise preferences → refine the candidates to the ones to recommend."""
from __future__ import annotations

import dspy

from afirs_dspy.catalog import Catalog
from afirs_dspy.conversation_facts import ConversationFacts
from afirs_dspy.programs.guarded import guarded_call, ranked_picks
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import RefineCandidates, SummarizePreferences, UserPreferences


class ActionStage(dspy.Module):
    """``extractor=None`` is the "w/o LLM2RS" flow: the tool ranks the whole corpus."""

    def __init__(self, extractor: SessionPreferenceExtractor | None, tool: RecsysTool, catalog: Catalog,
                 n_candidates: int = 50, n_recommend: int = 10):
        super().__init__()
        self.extractor = extractor
        self.tool = tool
        self.catalog = catalog
        self.n_candidates = n_candidates
        self.n_recommend = n_recommend
        self.summarize = predictor(SummarizePreferences)
        self.refine = predictor(RefineCandidates)

    def forward(self, conversation: str, user_responses: str, history: list[int], refine: bool = True,
                facts: ConversationFacts = ConversationFacts()) -> dspy.Prediction:
        trace: list[dict] = []
        nodes: list[int] = []
        if self.extractor is not None:
            extracted = self.extractor(user_responses=user_responses, facts=facts)
            trace += extracted.trace
            nodes = extracted.preferences
        recommendation = self.tool.recommend(history, [str(n) for n in nodes], k=self.n_candidates)
        candidates = list(recommendation.items)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        preferences = guarded_call(
            self.summarize, lambda p: p.preferences, UserPreferences, trace, "summarize", conversation=conversation
        )
        preselected = candidates[: self.n_recommend]
        if refine and len(candidates) > self.n_recommend:
            preselected = guarded_call(
                self.refine, lambda p: ranked_picks(p.selected, candidates, self.n_recommend), lambda: candidates[: self.n_recommend],
                trace, "refine", preferences=preferences, candidates=self.catalog.numbered(candidates), k=self.n_recommend,
            )
        return dspy.Prediction(
            preference_nodes=nodes, recommendation=recommendation, candidates=candidates,
            preferences=preferences, preselected=preselected, trace=trace,
        )
