"""InteRecAgent-style baseline (Huang et al. 2023; paper 5.1.3): the LM decides from the dialogue,
maps the user's requests to the catalog's predefined attributes (its "query tool"), the
recommender hard-filters on them and ranks with SASRec, and the LM refines the top 50.
The filter is set logic over the attribute index — no SQL text is ever built from model output.
A re-implementation of the behaviour the paper describes, not the authors' code."""
from __future__ import annotations

import dspy
import numpy as np

from afirs_dspy.catalog import Catalog
from afirs_dspy.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.programs.decision_first_agent import DecisionFirstAgent
from afirs_dspy.programs.guarded import guarded_call, valid_numbers
from afirs_dspy.recsys.tool import RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import ExtractAttributeFilter


class InteRecAgent(DecisionFirstAgent):
    def __init__(self, tool: RecsysTool, catalog: Catalog, embedder: TextEmbedder, attributes: list[str],
                 attribute_vectors: np.ndarray, attributes_shown: int = 20, **sizes):
        super().__init__(tool, catalog, **sizes)
        self.embedder = embedder
        self.attributes = attributes
        self.attribute_vectors = attribute_vectors
        self.attributes_shown = attributes_shown
        self.extract_filter = predictor(ExtractAttributeFilter)

    def retrieve(self, user_text: str, history: list[int], trace: list[dict]) -> tuple[list[int], list[str]]:
        query = self.embedder.encode([user_text])[0]
        shown = [self.attributes[i] for i in top_k_similar(query, self.attribute_vectors, self.attributes_shown)]
        required, excluded = guarded_call(
            self.extract_filter,
            lambda p: ([shown[i] for i in valid_numbers(p.required, len(shown))],
                       [shown[i] for i in valid_numbers(p.excluded, len(shown))]),
            lambda: ([], []), trace, "attribute_filter",
            user_responses=user_text, attributes=[f"{n}. {name}" for n, name in enumerate(shown, start=1)],
        )
        recommendation = self.tool.recommend_with_attribute_filter(history, required, k=self.n_candidates, exclude=excluded)
        trace.append({"step": "tool", "status": "ok", "note": recommendation.note})
        if not recommendation.items:
            # Nothing passes the hard filter: fall back to the ranking tool alone, as InteRecAgent
            # does when its query returns no rows.
            recommendation = self.tool.recommend(history, None, k=self.n_candidates)
            trace.append({"step": "tool", "status": "fallback", "note": recommendation.note})
        return list(recommendation.items), required + [f"not {name}" for name in excluded]
