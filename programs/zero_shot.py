"""Zero-shot baseline (paper 5.1.3): the LM decides and recommends from its own knowledge in one
call, with no tool. Its titles are mapped back to catalog ids; titles with no catalog match are
dropped and listed in the trace."""
from __future__ import annotations

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation
from afirs_dspy.programs.guarded import guarded_call
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.programs.titles import TitleRecommender, match_titles
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.signatures import ZeroShotTurn


class ZeroShot(TitleRecommender):
    def __init__(self, catalog: Catalog, domain: str, n_recommend: int = 10, history_shown: int = 10):
        super().__init__(catalog, domain, n_recommend, history_shown)
        self.turn = predictor(ZeroShotTurn)

    def forward(self, dialogue: list[dict], history: list[int]) -> dspy.Prediction:
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        trace: list[dict] = []
        action, titles, question = guarded_call(
            self.turn, lambda p: (p.action, p.titles, p.question), lambda: ("ask", [], GENERIC_QUESTION), trace,
            "turn", domain=self.domain, history=self.recent(history), conversation=render_conversation(dialogue),
            k=self.n_recommend,
        )
        items = match_titles(self.catalog, titles, {*history, *rejected}, trace)[: self.n_recommend]
        # No tool passes candidates; asking names no items it would recommend (DSR, HR: –).
        return finish_turn(self.catalog, action, items, question, trace, rejected=rejected, preferences=[],
                           candidates=None, preselected=items if action == "recommend" else None)
