"""Decision-first tool agents (paper section 3's paradigm): decide from the dialogue, then act.

Subclasses choose how candidates are retrieved; recommending refines them with the LM, which reads the
conversation itself (no preference summary first: one call fewer, issue 33), asking writes a question from
the conversation. Shared by the LLMCRS- and InteRecAgent-style baselines.
"""
from __future__ import annotations

import dspy

from afirs_dspy.domain.catalog import SHORT_LINE, Catalog
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation, user_responses
from afirs_dspy.programs.guarded import guarded_call, non_empty, ranked_picks
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import AskFromConversation, DecideFromConversation, RefineFromConversation


class DecisionFirstAgent(dspy.Module):
    def __init__(self, tool: RecsysTool, catalog: Catalog, n_candidates: int = 50, n_recommend: int = 10):
        super().__init__()
        self.tool = tool
        self.catalog = catalog
        self.n_candidates = n_candidates
        self.n_recommend = n_recommend
        self.decide = predictor(DecideFromConversation)
        self.refine = predictor(RefineFromConversation)
        self.ask = predictor(AskFromConversation)

    def retrieve(self, user_text: str, history: list[int], trace: list[dict], exclude: list[int]) -> tuple[list[int], list[str]]:
        """(candidate item ids, the preferences used to get them); none in ``exclude`` (the session's rejected items)."""
        raise NotImplementedError

    def forward(self, dialogue: list[dict], history: list[int], must_recommend: bool = False) -> dspy.Prediction:
        """``must_recommend``: recommend now, whatever the decision would be — the evaluation asks this at a turn where
        the method asked, for the list it would have recommended (DSR), without billing it to the method."""
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        conversation = render_conversation(dialogue)
        trace: list[dict] = []
        action = "recommend" if must_recommend else guarded_call(
            self.decide, lambda p: p.action, lambda: "ask", trace, "decide", conversation=conversation)
        # Candidates are retrieved on every turn, so HR@50 sees them. Asking skips the refinement, so the list
        # it would recommend is known only when there is nothing to refine (else None: the evaluation asks with
        # must_recommend).
        candidates, preferences = self.retrieve(user_responses(dialogue), list(history), trace, rejected)
        preselected = candidates if len(candidates) <= self.n_recommend else None
        question = ""
        if action != "recommend":
            question = guarded_call(self.ask, lambda p: non_empty(p.question), lambda: GENERIC_QUESTION, trace, "ask",
                                    conversation=conversation)
        elif preselected is None:
            # One attempt: the fallback, the tool's own top k, is what the small model mostly answered anyway
            # ([1, 2, …, 10]), and a second read of 50 candidates is the turn's largest cost (issue 33).
            preselected = guarded_call(
                self.refine, lambda p: ranked_picks(p.selected, candidates, self.n_recommend), lambda: candidates[: self.n_recommend],
                trace, "refine", attempts=1, conversation=conversation,
                candidates=self.catalog.numbered(candidates, SHORT_LINE), k=self.n_recommend,
            )
        return finish_turn(self.catalog, action, preselected or [], question, trace, rejected=rejected,
                           preferences=preferences, candidates=candidates, preselected=preselected)
