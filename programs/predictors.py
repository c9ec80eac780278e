"""Predictors with an output-token budget per signature, talking through the programs' adapters.

Small local models sometimes repeat themselves inside a JSON list until the token limit; a
budget a little above what a good answer needs bounds the cost of such a call (the truncated
output then fails to parse and takes the retry/fallback path)."""
from __future__ import annotations

import dspy

from afirs_dspy.lm.compact_adapter import program_adapter
from afirs_dspy.signatures import (
    AnalyseUser, AskFromConversation, AskQuestion, AskWithKnowledge, ClusterAttributes, ConfirmPreferences, DecideAction, DecideFromEvidence,
    DecideFromConversation, DecideFromProfile, ExtractAttributeFilter, FindMisfits, GroupItems, LearnUserProfile, ManageStep,
    PlanDialogueGoal, ProposeItems, ProposeQuestion, RecommendFromProfile, RecommendWithKnowledge, RefineCandidates,
    RefineFromConversation, ReflectOnAnswer, RerankShortlist, SelectNodes, SummarizePreferences, WriteResponse, ZeroShotTurn,
)

OUTPUT_TOKENS: dict[type[dspy.Signature], int] = {
    SelectNodes: 64,
    ConfirmPreferences: 48,
    SummarizePreferences: 192,
    RefineCandidates: 96,
    RerankShortlist: 64,
    DecideAction: 96,
    DecideFromEvidence: 24,
    DecideFromConversation: 24,
    AskQuestion: 96,
    AskFromConversation: 96,
    WriteResponse: 160,
    ExtractAttributeFilter: 48,
    RefineFromConversation: 96,
    ZeroShotTurn: 320,
    ClusterAttributes: 128,
    FindMisfits: 48,
    GroupItems: 96,
    PlanDialogueGoal: 64,
    RecommendWithKnowledge: 96,
    AskWithKnowledge: 96,
    LearnUserProfile: 192,
    DecideFromProfile: 96,
    RecommendFromProfile: 320,
    ManageStep: 48,
    AnalyseUser: 128,
    ProposeItems: 96,
    ProposeQuestion: 96,
    ReflectOnAnswer: 96,
}


class CompactPredict(dspy.Predict):
    """``dspy.Predict`` that talks through ``program_adapter(signature)`` unless the caller configured an
    adapter (``dspy.context(adapter=dspy.ChatAdapter())`` restores DSPy's default, e.g. to compare)."""

    def forward(self, **kwargs):
        with dspy.context(adapter=dspy.settings.adapter or program_adapter(self.signature)):
            return super().forward(**kwargs)

    async def aforward(self, **kwargs):
        with dspy.context(adapter=dspy.settings.adapter or program_adapter(self.signature)):
            return await super().aforward(**kwargs)


def predictor(signature: type[dspy.Signature]) -> dspy.Predict:
    """A predictor of ``signature`` capped at the signature's output budget."""
    return CompactPredict(signature, max_tokens=OUTPUT_TOKENS[signature])
