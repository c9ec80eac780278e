"""Decisions computed from the evidence alone, without an LM: the baselines the LM's decision must beat
(issue 15), and the fallback of an unusable LM decision."""
from __future__ import annotations

from collections.abc import Callable

from afirs_dspy.programs.preference_match import ItemEvidence

Policy = Callable[[ItemEvidence], str]

# Recommend when the items meet at least half of the user's wishes on average. Not tuned: on 600 validation
# first turns of ml-latest-small (attribute simulator, the spoken attributes as preferences) nearly every
# list fits (share 1), so no threshold separated the 379 lists holding the target from the others
# (balanced accuracy 0.5 at every threshold; always recommending was right 64% of the time).
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
