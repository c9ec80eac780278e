"""The action stage (paper 4.1): the session's preferences and critiques (``SessionMemory``, which extracts
the new message's preferences) → tool (two-stage filtering, less what the session excludes) → summarise
preferences → refine the candidates to the ones to recommend.

Refinement (``refinement``): "lm" shows the LM all candidates (the paper's eq. 7); "scored" orders them
by the computed preference score (``preference_match``) and lets the LM rerank the top ``shortlist``
only; "score" (AFIRSConfig's default) uses the score alone, no LM. An LM answer that is its input order is
noted in the trace.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import dspy

from afirs_dspy.domain.catalog import SHORT_LINE, Catalog
from afirs_dspy.domain.session import SessionState
from afirs_dspy.programs.dialogue import user_responses
from afirs_dspy.programs.guarded import guarded_call, ranked_picks
from afirs_dspy.programs.preference_match import PreferenceMatcher
from afirs_dspy.programs.session_memory import SessionMemory
from afirs_dspy.programs.summary_check import check_summary
from afirs_dspy.recsys.tool import Recommendation, RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import RefineCandidates, RerankShortlist, SummarizePreferences, UserPreferences

REFINEMENTS = ("scored", "score", "lm")
SUMMARIES = ("session", "checked", "lm")
INPUT_ORDER = "the LM returned its input order"


def is_input_order(selected: list[int]) -> bool:
    """Picks 1, 2, 3, … : the LM echoed the order it was shown (its answer added nothing)."""
    picks = list(dict.fromkeys(selected))
    return len(picks) >= 2 and picks == list(range(1, len(picks) + 1))


class ActionStage(dspy.Module):
    """A ``memory`` without an extractor is the "w/o LLM2RS" flow: the tool ranks the whole corpus. Each stage is a
    method (``memory``, ``candidates``, ``summarize_preferences``, ``refine_candidates``) so that
    benchmarks can run one stage on its own; ``forward`` composes them.

    ``summary``: "session" (default) states the preferences the session holds (the extracted nodes' names as
    likes, the refused attributes as dislikes, the years as a constraint) without an LM call; "checked" asks
    the LM (``SummarizePreferences``) and checks its answer against the user's words; "lm" takes the LM's
    answer as it is."""

    def __init__(self, memory: SessionMemory, tool: RecsysTool, catalog: Catalog,
                 n_candidates: int = 50, n_recommend: int = 10, parents: Mapping[str, str] | None = None,
                 matcher: PreferenceMatcher | None = None, summary: str = "checked", refinement: str = "lm",
                 shortlist: int = 15):
        super().__init__()
        if refinement not in REFINEMENTS:
            raise ValueError(f"refinement must be one of {', '.join(REFINEMENTS)}, got {refinement!r}")
        if summary not in SUMMARIES:
            raise ValueError(f"summary must be one of {', '.join(SUMMARIES)}, got {summary!r}")
        if (summary != "lm" or refinement != "lm") and matcher is None:
            raise ValueError("the summary from the session or its check, and the scored refinement, need a PreferenceMatcher")
        self.extractor = memory.extractor  # first, so that compiled programs name its predictors action_stage.extractor.*
        self.memory = memory
        self.tool = tool
        self.catalog = catalog
        self.n_candidates = n_candidates
        self.n_recommend = n_recommend
        self.parents = parents  # tree node key → parent key: a preference with too few items widens before it is dropped
        self.matcher = matcher
        self.summary = summary
        self.refinement = refinement
        self.shortlist = max(shortlist, n_recommend)
        # A shortlist line keeps 3 attributes: the score already weighed them all, and each line is
        # ~10 prompt tokens shorter (the paper-literal "lm" refinement shows the catalog's 5).
        self.line_attributes = 5 if refinement == "lm" else SHORT_LINE
        self.summarize = predictor(SummarizePreferences)
        self.refine = predictor(RefineCandidates if refinement == "lm" else RerankShortlist)

    def candidates(self, history: list[int], nodes: list[int], trace: list[dict], exclude: Sequence[int] = (),
                   avoid: Sequence[int] = ()) -> Recommendation:
        """Two-stage filtering by the tool: items under every preference, ranked by SASRec cosine; too few
        widen a preference up the tree (with ``parents``), then drop one. ``exclude``: never these items
        (rejected, or ruled out by a critique); ``avoid``: these last."""
        recommendation = self.tool.recommend(history, [str(n) for n in nodes], k=self.n_candidates, parents=self.parents,
                                             exclude_items=exclude, avoid_items=avoid)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        return recommendation

    def summarize_preferences(self, conversation: str, trace: list[dict], user_text: str | None = None,
                              preference_nodes: Sequence[int] = (), state: SessionState | None = None) -> UserPreferences:
        """The user's preferences as likes, dislikes and constraints: from the session ``state`` (summary
        "session"), or the LM's summary of the ``conversation``, checked against ``user_text`` (the user's
        turns; the whole conversation when not given) with the ``preference_nodes``' names as fallback likes."""
        if self.summary == "session":
            return self.matcher.session_preferences(state or SessionState(preferences=tuple(preference_nodes)))
        preferences = guarded_call(
            self.summarize, lambda p: p.preferences, UserPreferences, trace, "summarize", conversation=conversation
        )
        if self.summary == "lm":
            return preferences
        preferences, notes = check_summary(preferences, conversation if user_text is None else user_text,
                                           self.matcher.node_names(preference_nodes))
        if notes:
            trace[-1]["note"] = "; ".join(notes)
        return preferences

    def refine_candidates(self, preferences: UserPreferences, candidates: list[int], trace: list[dict],
                          preference_nodes: Sequence[int] = ()) -> list[int]:
        """The ``n_recommend`` candidates that best fit ``preferences`` (and the extracted
        ``preference_nodes``, which the score counts), best first."""
        k = self.n_recommend
        if len(candidates) <= k:
            return candidates
        if self.refinement == "lm":
            return self._lm_picks(preferences, candidates, candidates[:k], trace, attempts=2)
        ranked = self.matcher.order(candidates, preference_nodes, preferences)
        if self.refinement == "score":
            trace.append({"step": "refine", "status": "ok", "errors": [], "note": "ordered by the preference score"})
            return ranked[:k]
        # The score order is the fallback, as good as a second full prompt: no retry.
        return self._lm_picks(preferences, ranked[: self.shortlist], ranked[:k], trace, attempts=1)

    def _lm_picks(self, preferences: UserPreferences, shown: list[int], fallback: list[int], trace: list[dict],
                  attempts: int) -> list[int]:
        answers: list[list[int]] = []

        def validate(prediction: dspy.Prediction) -> list[int]:
            answers.append(list(prediction.selected))
            return ranked_picks(prediction.selected, shown, self.n_recommend)

        picks = guarded_call(self.refine, validate, lambda: fallback, trace, "refine", attempts=attempts,
                             preferences=preferences, candidates=self.catalog.numbered(shown, self.line_attributes),
                             k=self.n_recommend)
        if trace[-1]["status"] != "fallback" and is_input_order(answers[-1]):
            trace[-1]["note"] = INPUT_ORDER
        return picks

    def forward(self, conversation: str, dialogue: list[dict], history: list[int], refine: bool = True) -> dspy.Prediction:
        trace: list[dict] = []
        session = self.memory(dialogue=dialogue)
        trace += session.trace
        nodes = list(session.state.preferences)
        recommendation = self.candidates(history, nodes, trace, session.excluded, session.avoided)
        candidates = list(recommendation.items)
        preferences = self.summarize_preferences(conversation, trace, user_text=user_responses(dialogue),
                                                 preference_nodes=nodes, state=session.state)
        preselected = (self.refine_candidates(preferences, candidates, trace, preference_nodes=nodes) if refine
                       else candidates[: self.n_recommend])
        return dspy.Prediction(
            session=session, preference_nodes=nodes, recommendation=recommendation, candidates=candidates,
            preferences=preferences, preselected=preselected, trace=trace,
        )
