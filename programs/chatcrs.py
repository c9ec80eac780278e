"""ChatCRS-style baseline (Li et al. 2024; paper 5.1.3): a goal planner predicts the next dialogue
goal, a knowledge retriever pulls facts about items from an external knowledge base, and the LM
writes the turn grounded in both — recommending items picked by number from the retrieved ones,
or asking about the planned aspect. No recommender tool is used.

A re-implementation of the behaviour the paper describes, not the authors' code. Where it
simplifies: the goal planner is the prompted LM, not a LoRA-tuned model, and its goals are only
"recommend" or "ask" (no chit-chat or question answering); the knowledge base is the dataset's
catalog, its items retrieved by sentence-embedding similarity between what the user said and their
title and attributes (then shown with a shortened description), instead of the paper's LM-guided
walk over a knowledge graph's relations; and the reply is the shared template, not LM-written text.
"""
from __future__ import annotations

import dspy
import numpy as np

from afirs_dspy.domain.catalog import SHORT_LINE, Catalog
from afirs_dspy.text.embeddings import TextEmbedder, top_k_similar
from afirs_dspy.domain.session import rejected_items
from afirs_dspy.programs.dialogue import check_inputs, render_conversation, user_responses
from afirs_dspy.programs.guarded import guarded_call, non_empty, ranked_picks
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.programs.turn import GENERIC_QUESTION, finish_turn
from afirs_dspy.signatures import AskWithKnowledge, PlanDialogueGoal, RecommendWithKnowledge

# Asked about when the planner names no aspect.
DEFAULT_ASPECT = "what they are looking for"


class ChatCRS(dspy.Module):
    def __init__(self, catalog: Catalog, embedder: TextEmbedder, item_vectors: np.ndarray, n_recommend: int = 10,
                 n_knowledge: int = 20, description_chars: int = 100):
        super().__init__()
        self.catalog = catalog
        self.embedder = embedder
        self.item_vectors = item_vectors  # row i-1 is item i
        self.n_recommend = n_recommend
        self.n_knowledge = n_knowledge
        self.description_chars = description_chars
        self.plan_goal = predictor(PlanDialogueGoal)
        self.recommend = predictor(RecommendWithKnowledge)
        self.ask = predictor(AskWithKnowledge)

    def retrieve(self, user_text: str, history: list[int], exclude: list[int] = ()) -> list[int]:
        """The unseen items most similar to what the user said, best first; none in ``exclude``."""
        query = self.embedder.encode([user_text])[0]
        seen = set(history) | set(exclude)
        ranked = top_k_similar(query, self.item_vectors, self.n_knowledge + len(seen)) + 1
        return [int(i) for i in ranked if i not in seen][: self.n_knowledge]

    def fact(self, item: int) -> str:
        description = self.catalog.descriptions[item][: self.description_chars]
        line = self.catalog.line(item, SHORT_LINE)
        return f"{line}: {description}" if description else line

    def forward(self, dialogue: list[dict], history: list[int], must_recommend: bool = False) -> dspy.Prediction:
        """``must_recommend``: recommend now, whatever the decision would be — the evaluation asks this at a turn where
        the method asked, for the list it would have recommended (DSR), without billing it to the method."""
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        rejected = rejected_items(dialogue, self.catalog)
        conversation = render_conversation(dialogue)
        trace: list[dict] = []
        goal, aspect = ("recommend", "") if must_recommend else guarded_call(
            self.plan_goal, lambda p: (p.goal, p.aspect.strip()), lambda: ("ask", ""), trace, "goal",
            conversation=conversation)
        knowledge = self.retrieve(user_responses(dialogue), list(history), rejected)
        trace.append({"step": "knowledge", "status": "ok", "items": knowledge})
        facts = [f"{n}. {self.fact(i)}" for n, i in enumerate(knowledge, start=1)]
        # Recommending lets the LM pick among the retrieved items, so asking knows the list it would recommend
        # only when there is nothing to pick from (else None: the evaluation asks with must_recommend).
        preselected = knowledge if len(knowledge) <= self.n_recommend else None
        question = ""
        if goal == "recommend":
            preselected = guarded_call(
                self.recommend, lambda p: ranked_picks(p.selected, knowledge, self.n_recommend),
                lambda: knowledge[: self.n_recommend], trace, "recommend", conversation=conversation, knowledge=facts,
                k=self.n_recommend,
            )
        else:
            question = guarded_call(self.ask, lambda p: non_empty(p.question), lambda: GENERIC_QUESTION, trace, "ask",
                                    conversation=conversation, aspect=aspect or DEFAULT_ASPECT, knowledge=facts)
        # Its retrieved facts are not a recommender tool's candidate list (HR: –).
        return finish_turn(self.catalog, goal, preselected or [], question, trace, rejected=rejected, preferences=[],
                           candidates=None, preselected=preselected)
