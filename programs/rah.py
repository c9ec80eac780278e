"""RAH-style baseline (Shu et al. 2023, RecSys–Assistant–Human; paper 5.1.3): an assistant acting
for the user first learns a structured profile of the user's likes and dislikes, decides from that
profile whether to recommend or ask, recommends from the LM's own knowledge (titles mapped back to
catalog ids; no recommender tool), and its critic drops what the profile rules out.

A re-implementation of the behaviour the paper describes, not the authors' code. Where it
simplifies: the original assistant sits between a recommender and the user; as the AF-IRS paper
groups RAH with the methods without tools, here it recommends itself. Programs are stateless per
call, so the profile is not stored and updated turn by turn but learnt again from the whole
dialogue each turn (the same information, re-read). The Perceive and Reflect agents are left out;
the Critic is a check without an LM call that drops items the profile dislikes, by title or by one
of their catalog attributes; and the reply is the shared template.
"""
from __future__ import annotations

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation
from afirs_dspy.programs.guarded import guarded_call
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.programs.titles import TitleRecommender, match_titles
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.signatures import DecideFromProfile, LearnUserProfile, RecommendFromProfile, UserPreferences


def profile_preferences(profile: UserPreferences) -> list[str]:
    """The profile as the flat preference list the evaluator records ("not …" for dislikes)."""
    return [*profile.likes, *(f"not {d}" for d in profile.dislikes), *profile.constraints]


class RAH(TitleRecommender):
    def __init__(self, catalog: Catalog, domain: str, n_recommend: int = 10, history_shown: int = 10):
        super().__init__(catalog, domain, n_recommend, history_shown)
        self.learn = predictor(LearnUserProfile)
        self.decide = predictor(DecideFromProfile)
        self.recommend = predictor(RecommendFromProfile)

    def critic(self, items: list[int], profile: UserPreferences) -> list[int]:
        """``items`` without those the profile dislikes, by title or by one of their attributes."""
        dislikes = {d.casefold() for d in profile.dislikes}
        named = {self.catalog.match_title(d) for d in profile.dislikes}
        return [i for i in items
                if i not in named and not dislikes & {a.casefold() for a in self.catalog.attributes[i]}]

    def forward(self, dialogue: list[dict], history: list[int], must_recommend: bool = False) -> dspy.Prediction:
        """``must_recommend``: recommend now, whatever the decision would be — the evaluation asks this at a turn where
        the method asked, for the list it would have recommended (DSR), without billing it to the method."""
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        trace: list[dict] = []
        profile = guarded_call(self.learn, lambda p: p.profile, UserPreferences, trace, "learn_profile",
                               conversation=render_conversation(dialogue))
        action, question = ("recommend", "") if must_recommend else guarded_call(
            self.decide, lambda p: (p.action, p.question), lambda: ("ask", GENERIC_QUESTION), trace, "decide",
            profile=profile)
        items: list[int] = []
        if action == "recommend":
            titles = guarded_call(
                self.recommend, lambda p: p.titles, list, trace, "recommend", domain=self.domain, profile=profile,
                history=self.recent(history), k=self.n_recommend,
            )
            matched = match_titles(self.catalog, titles, {*history, *rejected}, trace)
            items = self.critic(matched, profile)
            trace.append({"step": "critic", "status": "ok", "dropped": [i for i in matched if i not in items]})
            items = items[: self.n_recommend]
        # No tool passes candidates (HR: –); asking names no items (the evaluation asks with must_recommend).
        return finish_turn(self.catalog, action, items, question, trace, rejected=rejected,
                           preferences=profile_preferences(profile), candidates=None,
                           preselected=items if action == "recommend" else None)
