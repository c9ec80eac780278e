"""Catalog search over predefined attributes (InteRecAgent's query tool, paper 5.1.3): the LM maps
the user's requests to the attributes closest to them, the recommender hard-filters on those and
ranks what passes with SASRec. The filter is set logic over the attribute index — no SQL text is
ever built from model output. Used by the InteRecAgent- and MACRec-style baselines."""
from __future__ import annotations

from collections.abc import Sequence

import dspy
import numpy as np

from afirs_dspy.text.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.programs.guarded import guarded_call
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.signatures import ExtractAttributeFilter


def named(names: list[str], shown: list[str], limit: int) -> list[str]:
    """The first ``limit`` of ``names`` that are shown attributes (any case), repeats dropped."""
    by_key = {name.casefold(): name for name in shown}
    keys = (name.strip().casefold() for name in names)
    return list(dict.fromkeys(by_key[key] for key in keys if key in by_key))[:limit]


class AttributeSearch(dspy.Module):
    """``attributes_shown``: the attributes closest to the user's words that the LM chooses from; ``max_named``:
    how many it may require (and exclude). A small model lists many when it finds no fit (issue 33): the
    first ones it names are kept, and a filter of many attributes would let no item through anyway."""

    def __init__(self, tool: RecsysTool, embedder: TextEmbedder, attributes: list[str], attribute_vectors: np.ndarray,
                 n_candidates: int = 50, attributes_shown: int = 12, max_named: int = 3):
        super().__init__()
        self.tool = tool
        self.embedder = embedder
        self.attributes = attributes
        self.attribute_vectors = attribute_vectors  # row i is attributes[i]
        self.n_candidates = n_candidates
        self.attributes_shown = attributes_shown
        self.max_named = max_named
        self.extract_filter = predictor(ExtractAttributeFilter)

    def forward(self, user_text: str, history: list[int], exclude: Sequence[int] = ()) -> dspy.Prediction:
        """Returns ``candidates`` (item ids, best first, none in ``exclude``), ``preferences`` (the required
        attributes, then "not …" for the excluded ones) and ``trace``."""
        trace: list[dict] = []
        query = self.embedder.encode([user_text])[0]
        shown = [self.attributes[i] for i in top_k_similar(query, self.attribute_vectors, self.attributes_shown)]
        # One attempt: without a usable filter the tool ranks unfiltered, which is what a second sample of a
        # run-on list would most likely give too.
        required, excluded = guarded_call(
            self.extract_filter,
            lambda p: (named(p.required, shown, self.max_named), named(p.excluded, shown, self.max_named)),
            lambda: ([], []), trace, "attribute_filter", attempts=1, user_responses=user_text, attributes=shown,
        )
        recommendation = self.tool.recommend_with_attribute_filter(history, required, k=self.n_candidates,
                                                                   exclude=excluded, exclude_items=exclude)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        if not recommendation.items:
            # Nothing passes the hard filter: fall back to the ranking tool alone, as InteRecAgent
            # does when its query returns no rows.
            recommendation = self.tool.recommend(history, None, k=self.n_candidates, exclude_items=exclude)
            trace.append({"step": "tool", "status": "fallback", "note": recommendation.note})
        return dspy.Prediction(candidates=list(recommendation.items),
                               preferences=required + [f"not {name}" for name in excluded], trace=trace)
