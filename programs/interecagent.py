"""InteRecAgent-style baseline (Huang et al. 2023; paper 5.1.3): the LM decides from the dialogue,
maps the user's requests to the catalog's predefined attributes (its "query tool"), the
recommender hard-filters on them and ranks with SASRec (see attribute_search.py), and the LM
refines the top 50. A re-implementation of the behaviour the paper describes, not the authors' code."""
from __future__ import annotations

import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.programs.attribute_search import AttributeSearch
from afirs_dspy.programs.decision_first_agent import DecisionFirstAgent
from afirs_dspy.recsys.tool import RecsysTool


class InteRecAgent(DecisionFirstAgent):
    def __init__(self, tool: RecsysTool, catalog: Catalog, embedder: TextEmbedder, attributes: list[str],
                 attribute_vectors: np.ndarray, attributes_shown: int = 12, **sizes):
        super().__init__(tool, catalog, **sizes)
        self.search = AttributeSearch(tool, embedder, attributes, attribute_vectors, self.n_candidates,
                                      attributes_shown)

    def retrieve(self, user_text: str, history: list[int], trace: list[dict], exclude: list[int]) -> tuple[list[int], list[str]]:
        found = self.search(user_text=user_text, history=history, exclude=exclude)
        trace.extend(found.trace)
        return found.candidates, found.preferences
