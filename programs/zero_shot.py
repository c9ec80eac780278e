"""Zero-shot baseline (paper 5.1.3): the LM decides and recommends from its own knowledge in one
call, with no tool. Its titles are mapped back to catalog ids; titles with no catalog match are
dropped and listed in the trace."""
from __future__ import annotations

import dspy

from afirs_dspy.catalog import Catalog
from afirs_dspy.programs.dialogue import check_dialogue, render_conversation
from afirs_dspy.programs.guarded import guarded_call
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import ZeroShotTurn


class ZeroShot(dspy.Module):
    def __init__(self, catalog: Catalog, domain: str, n_recommend: int = 10, history_shown: int = 10):
        super().__init__()
        self.catalog = catalog
        self.domain = domain
        self.n_recommend = n_recommend
        self.history_shown = history_shown
        self.turn = predictor(ZeroShotTurn)

    def forward(self, dialogue: list[dict], history: list[int]) -> dspy.Prediction:
        check_dialogue(dialogue)
        trace: list[dict] = []
        out = guarded_call(
            self.turn, lambda p: (p.action, p.titles, p.question), lambda: ("ask", [], GENERIC_QUESTION), trace, "turn",
            domain=self.domain, history=[self.catalog.titles[i] for i in list(history)[-self.history_shown:]],
            conversation=render_conversation(dialogue), k=self.n_recommend,
        )
        action, titles, question = out
        matched = [self.catalog.match_title(t) for t in titles]
        items = list(dict.fromkeys(i for i in matched if i is not None and i not in set(history)))[: self.n_recommend]
        trace.append({"step": "match_titles", "status": "ok", "unmatched": [t for t, i in zip(titles, matched) if i is None]})
        return finish_turn(self.catalog, action, items, question, trace, preferences=[], candidates=[], preselected=items)
