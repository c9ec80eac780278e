"""Catalog search over predefined attributes (InteRecAgent's query tool, paper 5.1.3): the LM maps
the user's requests to the attributes closest to them, the recommender hard-filters on those and
ranks what passes with SASRec. The filter is set logic over the attribute index — no SQL text is
ever built from model output. Used by the InteRecAgent- and MACRec-style baselines."""
from __future__ import annotations

from collections.abc import Sequence

import dspy
import numpy as np

from afirs_dspy.text.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.programs.guarded import guarded_call, valid_numbers
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.signatures import ExtractAttributeFilter


class AttributeSearch(dspy.Module):
    def __init__(self, tool: RecsysTool, embedder: TextEmbedder, attributes: list[str], attribute_vectors: np.ndarray,
                 n_candidates: int = 50, attributes_shown: int = 20):
        super().__init__()
        self.tool = tool
        self.embedder = embedder
        self.attributes = attributes
        self.attribute_vectors = attribute_vectors  # row i is attributes[i]
        self.n_candidates = n_candidates
        self.attributes_shown = attributes_shown
        self.extract_filter = predictor(ExtractAttributeFilter)

    def forward(self, user_text: str, history: list[int], exclude: Sequence[int] = ()) -> dspy.Prediction:
        """Returns ``candidates`` (item ids, best first, none in ``exclude``), ``preferences`` (the required
        attributes, then "not …" for the excluded ones) and ``trace``."""
        trace: list[dict] = []
        query = self.embedder.encode([user_text])[0]
        shown = [self.attributes[i] for i in top_k_similar(query, self.attribute_vectors, self.attributes_shown)]
        required, excluded = guarded_call(
            self.extract_filter,
            lambda p: ([shown[i] for i in valid_numbers(p.required, len(shown))],
                       [shown[i] for i in valid_numbers(p.excluded, len(shown))]),
            lambda: ([], []), trace, "attribute_filter",
            user_responses=user_text, attributes=[f"{n}. {name}" for n, name in enumerate(shown, start=1)],
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
