"""Decisions computed from the evidence alone, without an LM: the baselines the LM's decision must beat
(issue 15), and the fallback of an unusable LM decision."""
from __future__ import annotations

from collections.abc import Callable

from afirs_dspy.programs.preference_match import ItemEvidence

Policy = Callable[[ItemEvidence], str]

# Chosen on validation users of ml-latest-small (first turns, attribute simulator): the share that best
# separates lists holding the target from the others (issue 15; /work/scratch/refine).
MATCH_SHARE_THRESHOLD = 0.5


def always_recommend(evidence: ItemEvidence) -> str:
    return "recommend"


def always_ask(evidence: ItemEvidence) -> str:
    return "ask"


def recommend_if_share(threshold: float = MATCH_SHARE_THRESHOLD) -> Policy:
    """Recommend iff the items' match share is at least ``threshold``."""
    def policy(evidence: ItemEvidence) -> str:
        return "recommend" if evidence.match_share >= threshold else "ask"
    return policy
