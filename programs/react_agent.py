"""ReAct baseline (Yao et al. 2023; paper 5.1.3): dspy.ReAct reasons and acts with two tools —
a catalog search and the SASRec recommender for the current user — then recommends item ids or
asks. Ids are checked against the catalog; unknown ids are dropped and listed in the trace.

Bounded for small local models (issue 33): at most two steps (a tool call, then another or finish), each
through the programs' compact adapter with an output budget; a step that fails to parse ends the trajectory,
as DSPy's ReAct ends it on an invalid tool; and the final answer is read from the trajectory's thoughts
without a second chain of thought (DSPy's default ``extract`` reasons again, ~100 generated tokens)."""
from __future__ import annotations

import json
from contextvars import ContextVar

import dspy
import numpy as np
from dspy.utils.exceptions import AdapterParseError

from afirs_dspy.domain.catalog import SHORT_LINE, Catalog
from afirs_dspy.text.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation
from afirs_dspy.programs.guarded import guarded_call
from afirs_dspy.programs.predictors import CompactPredict
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.signatures import AgentTurn
# The user of the session being served, (history, items the session rejected), read by the agent's tools;
# a context variable keeps parallel sessions apart.
_USER: ContextVar[tuple[list[int], list[int]]] = ContextVar("react_user")


class AgentStep(CompactPredict):
    """One ReAct step; an answer that does not parse raises ValueError, which ``dspy.ReAct`` takes as the end of
    the trajectory (it goes on to the final answer) rather than the failure of the whole turn."""

    def forward(self, **kwargs):
        try:
            return super().forward(**kwargs)
        except AdapterParseError as exc:
            raise ValueError(str(exc)) from exc


class AgentTool(dspy.Tool):
    """A tool whose invalid arguments come back as a one-line observation that shows the call's form. DSPy's
    ReAct shows a failed call's traceback instead: ~600 tokens a step, holding the install's paths, so the same
    session read differently (and missed the response cache) in another checkout. The 1.5B model copies the
    argument's schema (``{"query": {"type": "string"}}``) on most first calls; shown the form, it can correct
    the next one (with the traceback, ReAct recommended on 3 of evidence-2's 45 pilot turns)."""

    def __call__(self, **kwargs):
        try:
            return super().__call__(**kwargs)
        except ValueError as exc:  # from DSPy's argument validation: these tools raise none of their own
            example = json.dumps({name: "..." for name in self.args})
            return f"invalid arguments: {exc}. Give each argument its value, not its type: {example}"


class ReActAgent(dspy.Module):
    def __init__(self, tool: RecsysTool, catalog: Catalog, embedder: TextEmbedder, item_vectors: np.ndarray,
                 n_recommend: int = 10, max_iters: int = 2, results_per_tool: int = 10, step_tokens: int = 80,
                 answer_tokens: int = 96):
        super().__init__()
        self.tool = tool
        self.catalog = catalog
        self.embedder = embedder
        self.item_vectors = item_vectors  # row i-1 is item i
        self.n_recommend = n_recommend
        self.results = results_per_tool
        self.agent = dspy.ReAct(AgentTurn, tools=[AgentTool(self.search_catalog), AgentTool(self.recommend_for_user)],
                                max_iters=max_iters)
        self.agent.react = AgentStep(self.agent.react.signature, max_tokens=step_tokens)
        self.agent.extract = CompactPredict(self.agent.extract.predict.signature.delete("reasoning"),
                                            max_tokens=answer_tokens)

    def _listing(self, items) -> str:
        return "\n".join(f"id {i}: {self.catalog.line(int(i), SHORT_LINE)}" for i in items) or "no items"

    def search_catalog(self, query: str) -> str:
        """Find catalog items whose title and attributes match the query; returns 'id N: title — attributes' lines."""
        query_vector = self.embedder.encode([query])[0]
        rejected = set(_USER.get()[1])
        found = top_k_similar(query_vector, self.item_vectors, self.results + len(rejected)) + 1
        return self._listing([i for i in found if i not in rejected][: self.results])

    def recommend_for_user(self) -> str:
        """Items the user's past behaviour suggests (SASRec); returns 'id N: title — attributes' lines."""
        history, rejected = _USER.get()
        return self._listing(self.tool.recommend(history, None, k=self.results, exclude_items=rejected).items)

    def forward(self, dialogue: list[dict], history: list[int]) -> dspy.Prediction:
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        trace: list[dict] = []
        token = _USER.set((list(history), rejected))
        try:
            action, ids, question = guarded_call(
                self.agent, lambda p: (p.action, p.item_ids, p.question), lambda: ("ask", [], GENERIC_QUESTION),
                trace, "react", conversation=render_conversation(dialogue), k=self.n_recommend,
            )
        finally:
            _USER.reset(token)
        valid = [i for i in dict.fromkeys(ids) if 1 <= i <= len(self.catalog) and i not in {*history, *rejected}]
        trace.append({"step": "check_ids", "status": "ok", "dropped": [i for i in ids if i not in valid]})
        items = valid[: self.n_recommend]
        # No candidate list is passed to its LM, and asking names no items it would recommend (DSR, HR: –).
        return finish_turn(self.catalog, action, items, question, trace, rejected=rejected, preferences=[],
                           candidates=None, preselected=items if action == "recommend" else None)
