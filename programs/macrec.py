"""MACRec-style baseline (Wang et al. 2024, multi-agent collaboration; paper 5.1.3): a manager agent
coordinates an analyst (what the user wants, which found items fit), a searcher (catalog look-up:
the user's requests mapped to predefined attributes, hard-filtered and ranked by SASRec, as
InteRecAgent does) and a reflector that checks the manager's answer before it is given. Each
manager step is one bounded choice; a rejected answer goes back to the manager with the
reflector's feedback, within at most ``max_steps`` steps.

A re-implementation of the behaviour the paper describes, not the authors' code. Where it
simplifies: the manager picks its next action from a fixed set instead of writing free-form
thoughts and actions, and never writes search queries (the searcher reads the user's words and the
analyst's reports); the reflector critiques the proposed answer within the turn rather than
reflecting on a whole failed trial; there is no task interpreter; and the reply is the shared
template. Calls are kept short for weak local models: Literal choices and numbers into shown lists. Steps
are bounded: the last one answers, and a search that would repeat the previous one recommends instead.
"""
from __future__ import annotations

import dspy
import numpy as np

from afirs_dspy.domain.catalog import SHORT_LINE, Catalog
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.programs.attribute_search import AttributeSearch
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation, user_responses
from afirs_dspy.programs.guarded import guarded_call, non_empty, ranked_picks
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.programs.titles import recent_titles
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.signatures import AnalyseUser, ManageStep, ProposeItems, ProposeQuestion, ReflectOnAnswer


class MACRec(dspy.Module):
    def __init__(self, tool: RecsysTool, catalog: Catalog, embedder: TextEmbedder, attributes: list[str],
                 attribute_vectors: np.ndarray, n_candidates: int = 50, n_recommend: int = 10, max_steps: int = 3,
                 history_shown: int = 10, found_shown: int = 5):
        super().__init__()
        self.catalog = catalog
        self.n_recommend = n_recommend
        self.max_steps = max_steps
        self.history_shown = history_shown
        self.found_shown = found_shown
        self.manage = predictor(ManageStep)
        self.analyst = predictor(AnalyseUser)
        # The searcher is InteRecAgent's retrieval step: query tool, hard filter, SASRec.
        self.searcher = AttributeSearch(tool, embedder, attributes, attribute_vectors, n_candidates)
        self.propose_items = predictor(ProposeItems)
        self.propose_question = predictor(ProposeQuestion)
        self.reflector = predictor(ReflectOnAnswer)

    def forward(self, dialogue: list[dict], history: list[int]) -> dspy.Prediction:
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        conversation = render_conversation(dialogue)
        history = list(history)
        trace: list[dict] = []
        reports: list[str] = []
        analyses: list[str] = []
        candidates: list[int] = []
        preferences: list[str] = []
        searched = None  # the searcher's last query
        for step in range(self.max_steps):
            action = guarded_call(
                # Without a usable choice the manager moves on: search first, then recommend what was found.
                self.manage, lambda p: p.action, lambda: "recommend" if candidates else "search", trace, "manager",
                conversation=conversation, reports=list(reports), steps_left=self.max_steps - step,
            )
            query = "\n".join([user_responses(dialogue), *analyses])
            last = step == self.max_steps - 1
            # Bounded steps (issue 33): the last step answers, and a search that would repeat the last one finds
            # nothing new; the small model chose "search" on every step and never answered.
            if (action == "search" and query == searched) or (action == "analyse" and last):
                trace.append({"step": "bound", "status": "ok", "note": f"{action} → recommend"})
                action = "recommend"
            if action == "analyse":
                analyses.append(self.analyse(conversation, history, candidates, trace))
                reports.append(f"analyst: {analyses[-1]}")
                continue
            # Recommending needs items: with none found yet, the searcher runs first.
            if action == "search" or (action == "recommend" and not candidates):
                found = self.searcher(user_text=query, history=history, exclude=rejected)
                searched = query
                trace.extend(found.trace)
                candidates, preferences = found.candidates, found.preferences
                top = "; ".join(self.catalog.titles[i] for i in candidates[: self.found_shown])
                filtered = ", ".join(preferences) or "no attribute filter"
                reports.append(f"searcher: {len(candidates)} items ({filtered}); top: {top}")
            if action == "search":
                if not last:
                    continue
                action = "recommend"  # the last step answers with what it found
            items, question = self.propose(action, conversation, reports, candidates, trace)
            accepted, feedback = self.reflect(conversation, action, items, question, trace)
            if accepted:
                preselected = items if action == "recommend" else self.unproposed(candidates)
                return finish_turn(self.catalog, action, items, question, trace, rejected=rejected,
                                   preferences=preferences, candidates=candidates, preselected=preselected)
            reports.append(f"reflector: rejected the answer to {action}: {feedback}")
        trace.append({"step": "manager", "status": "fallback",
                      "errors": [f"no accepted answer within max_steps={self.max_steps}: asking"]})
        return finish_turn(self.catalog, "ask", [], GENERIC_QUESTION, trace, rejected=rejected, preferences=preferences,
                           candidates=candidates, preselected=self.unproposed(candidates))

    def unproposed(self, candidates: list[int]) -> list[int] | None:
        """What recommending would show when asking instead: known without the proposing LM call only when the
        searcher found at most ``n_recommend`` items (none found: it would search first); else None (DSR: –)."""
        return candidates if 0 < len(candidates) <= self.n_recommend else None

    def analyse(self, conversation: str, history: list[int], candidates: list[int], trace: list[dict]) -> str:
        return guarded_call(
            self.analyst, lambda p: non_empty(p.analysis), lambda: "no analysis", trace, "analyst",
            conversation=conversation, history=recent_titles(self.catalog, history, self.history_shown),
            found=[self.catalog.line(i, SHORT_LINE) for i in candidates[: self.found_shown]],
        )

    def propose(self, action: str, conversation: str, reports: list[str], candidates: list[int],
                trace: list[dict]) -> tuple[list[int], str]:
        """The manager's answer: (items, "") to recommend, ([], question) to ask."""
        if action == "ask":
            return [], guarded_call(self.propose_question, lambda p: non_empty(p.question), lambda: GENERIC_QUESTION,
                                    trace, "propose", conversation=conversation, reports=list(reports))
        if len(candidates) <= self.n_recommend:
            return candidates, ""
        return guarded_call(
            self.propose_items, lambda p: ranked_picks(p.selected, candidates, self.n_recommend),
            lambda: candidates[: self.n_recommend], trace, "propose", attempts=1,  # as the decision-first refinement
            conversation=conversation, reports=list(reports), candidates=self.catalog.numbered(candidates, SHORT_LINE),
            k=self.n_recommend,
        ), ""

    def reflect(self, conversation: str, action: str, items: list[int], question: str,
                trace: list[dict]) -> tuple[bool, str]:
        """(accepted, feedback); a failing reflector accepts, so it never blocks an answer."""
        shown = "; ".join(self.catalog.line(i, SHORT_LINE) for i in items) if action == "recommend" else question
        verdict, feedback = guarded_call(self.reflector, lambda p: (p.verdict, p.feedback), lambda: ("accept", ""),
                                         trace, "reflector", conversation=conversation, answer=f"{action}: {shown}")
        return verdict == "accept", feedback
