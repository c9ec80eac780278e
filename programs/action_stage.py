"""The action stage (paper 4.1): extract session preferences → tool (two-stage filtering) →
summarise preferences → refine the candidates to the ones to recommend."""
from __future__ import annotations

from collections.abc import Mapping

import dspy

from afirs_dspy.catalog import Catalog
from afirs_dspy.conversation_facts import ConversationFacts
from afirs_dspy.programs.guarded import guarded_call, ranked_picks
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.recsys.tool import Recommendation, RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import RefineCandidates, SummarizePreferences, UserPreferences


class ActionStage(dspy.Module):
    """``extractor=None`` is the "w/o LLM2RS" flow: the tool ranks the whole corpus. Each stage is a
    method (``extract``, ``candidates``, ``summarize_preferences``, ``refine_candidates``) so that
    benchmarks can run one stage on its own; ``forward`` composes them."""

    def __init__(self, extractor: SessionPreferenceExtractor | None, tool: RecsysTool, catalog: Catalog,
                 n_candidates: int = 50, n_recommend: int = 10, parents: Mapping[str, str] | None = None):
        super().__init__()
        self.extractor = extractor
        self.tool = tool
        self.catalog = catalog
        self.n_candidates = n_candidates
        self.n_recommend = n_recommend
        self.parents = parents  # tree node key → parent key: a preference with too few items widens before it is dropped
        self.summarize = predictor(SummarizePreferences)
        self.refine = predictor(RefineCandidates)

    def extract(self, user_responses: str, facts: ConversationFacts, trace: list[dict]) -> list[int]:
        """Session preferences (tree node ids); none in the "w/o LLM2RS" flow."""
        if self.extractor is None:
            return []
        extracted = self.extractor(user_responses=user_responses, facts=facts)
        trace += extracted.trace
        return extracted.preferences

    def candidates(self, history: list[int], nodes: list[int], trace: list[dict]) -> Recommendation:
        """Two-stage filtering by the tool: items under every preference, ranked by SASRec cosine; too few
        widen a preference up the tree (with ``parents``), then drop one."""
        recommendation = self.tool.recommend(history, [str(n) for n in nodes], k=self.n_candidates, parents=self.parents)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        return recommendation

    def summarize_preferences(self, conversation: str, trace: list[dict]) -> UserPreferences:
        return guarded_call(
            self.summarize, lambda p: p.preferences, UserPreferences, trace, "summarize", conversation=conversation
        )

    def refine_candidates(self, preferences: UserPreferences, candidates: list[int], trace: list[dict]) -> list[int]:
        """The ``n_recommend`` candidates that best fit ``preferences``, best first."""
        if len(candidates) <= self.n_recommend:
            return candidates
        return guarded_call(
            self.refine, lambda p: ranked_picks(p.selected, candidates, self.n_recommend),
            lambda: candidates[: self.n_recommend], trace, "refine",
            preferences=preferences, candidates=self.catalog.numbered(candidates), k=self.n_recommend,
        )

    def forward(self, conversation: str, user_responses: str, history: list[int], refine: bool = True,
                facts: ConversationFacts = ConversationFacts()) -> dspy.Prediction:
        trace: list[dict] = []
        nodes = self.extract(user_responses, facts, trace)
        recommendation = self.candidates(history, nodes, trace)
        candidates = list(recommendation.items)
        preferences = self.summarize_preferences(conversation, trace)
        preselected = (self.refine_candidates(preferences, candidates, trace) if refine
                       else candidates[: self.n_recommend])
        return dspy.Prediction(
            preference_nodes=nodes, recommendation=recommendation, candidates=candidates,
            preferences=preferences, preselected=preselected, trace=trace,
        )
