"""DSPy signatures of AF-IRS: one per LLM step of the paper (section 4).

Each docstring is the instruction and the typed fields are the contract. Item and node
references are numbers into the list shown in the prompt, checked by the programs.
"""
from afirs_dspy.signatures.baselines import (
    AgentTurn, AskFromConversation, ExtractAttributeFilter, RefineFromConversation, ZeroShotTurn,
)
from afirs_dspy.signatures.crs_baselines import (
    AnalyseUser, AskWithKnowledge, DecideFromProfile, LearnUserProfile, ManageStep, PlanDialogueGoal, ProposeItems,
    ProposeQuestion, RecommendFromProfile, RecommendWithKnowledge, ReflectOnAnswer,
)
from afirs_dspy.signatures.decision import DecideAction, DecideFromConversation, DecideFromEvidence
from afirs_dspy.signatures.node_selection import ConfirmPreferences, SelectNodes
from afirs_dspy.signatures.preferences import SummarizePreferences, UserPreferences
from afirs_dspy.signatures.question import AskQuestion
from afirs_dspy.signatures.refinement import RefineCandidates, RerankShortlist
from afirs_dspy.signatures.response import WriteResponse
from afirs_dspy.signatures.tree_construction import ClusterAttributes, FindMisfits, GroupItems

__all__ = [
    "AgentTurn", "AskFromConversation", "DecideFromConversation", "ExtractAttributeFilter", "RefineFromConversation",
    "ZeroShotTurn",
    "AskQuestion", "ClusterAttributes", "ConfirmPreferences", "DecideAction", "DecideFromEvidence", "FindMisfits",
    "GroupItems", "RefineCandidates", "RerankShortlist", "SelectNodes", "SummarizePreferences", "UserPreferences",
    "WriteResponse",
    "AnalyseUser", "AskWithKnowledge", "DecideFromProfile", "LearnUserProfile", "ManageStep", "PlanDialogueGoal",
    "ProposeItems", "ProposeQuestion", "RecommendFromProfile", "RecommendWithKnowledge", "ReflectOnAnswer",
]
