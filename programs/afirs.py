"""AF-IRS: one turn = action stage, then decision stage (paper section 4), and its ablations."""
from __future__ import annotations

from dataclasses import dataclass

import dspy
import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.conversation_facts import ConversationFacts, read_conversation
from afirs_dspy.text.embeddings import TextEmbedder
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.programs.action_stage import REFINEMENTS, SUMMARIES, ActionStage
from afirs_dspy.programs.attribute_names import AttributeNames
from afirs_dspy.programs.decision_stage import DecisionStage
from afirs_dspy.programs.dialogue import check_inputs, render_conversation
from afirs_dspy.programs.guarded import guarded_call, non_empty
from afirs_dspy.programs.preference_extractor import EXTRACTION_MODES, SessionPreferenceExtractor
from afirs_dspy.programs.preference_match import PreferenceMatcher, ScoreWeights
from afirs_dspy.programs.session_memory import SessionMemory
from afirs_dspy.programs.turn import finish_turn
from afirs_dspy.recsys.tool import PREFERENCES, Recommendation, RecsysTool
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import WriteResponse


MAX_RECOMMEND = 10  # the paper's list size: a turn recommends at most this many items


@dataclass(frozen=True)
class AFIRSConfig:
    """Switches for the paper's ablations (section 5.3) and the sizes of section 5.1.5."""

    n_candidates: int = 50      # items the tool passes to the LM
    n_recommend: int = 10       # items recommended
    action_first: bool = True   # False: "w/o Action-First" (decide from the dialogue, then act)
    llm_to_rs: bool = True      # False: "w/o LLM2RS" (no preference extraction; the tool ranks the corpus)
    llm_refine: bool = True     # False: "w/o LLM-refine" (the tool's top items are recommended as is)
    top_children: int = 8       # tree nodes shown to the LM per level, pre-ranked by similarity
    max_per_level: int = 1      # nodes the LM may pick per level (small LMs over-pick by position)
    lm_reply: bool = False      # write the reply with the LM (signature 8) instead of a template
    question_memory: bool = True  # False: questions and extraction ignore what was said and asked (before issue 22)
    extraction: str = "confirm"  # "confirm": similarity proposes, one LM call confirms; "levelwise": the paper's descent
    relax_up_tree: bool = True  # False: the tool drops a preference with too few items instead of widening it
    # "session": the preferences the session holds, stated in code (no LM call); "checked": the LM's summary
    # checked against the user's words; "lm": the LM's summary as is
    summary: str = "session"
    # "score": the computed preference score orders the 50, no LM call (with the embedded model the LM rerank
    # echoed its input order and cost ~17 s a turn: bench/results/turn_cost.md); "scored": the LM reranks the
    # score's top 15; "lm": the LM sees all 50 (the paper's eq. 7)
    refinement: str = "score"
    # The refinement score's similarity term (ScoreWeights.similarity); None: the dataset's (SIMILARITY_WEIGHTS)
    similarity_weight: float | None = None
    decision_facts: bool = True  # the decision sees computed evidence about the items (False: items only)
    brief_lists: bool = True  # the LM sees a past recommendation as its number of titles (False: the titles)

    def __post_init__(self):
        # A compiled program's manifest sets these too: refuse what breaks the turn contract.
        for name in ("n_candidates", "top_children", "max_per_level"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if type(self.n_recommend) is not int or not 1 <= self.n_recommend <= MAX_RECOMMEND:
            raise ValueError(f"n_recommend must be a whole number in 1..{MAX_RECOMMEND}, got {self.n_recommend!r}")
        if self.extraction not in EXTRACTION_MODES:
            raise ValueError(f"extraction must be one of {', '.join(EXTRACTION_MODES)}, got {self.extraction!r}")
        for name in ("action_first", "llm_to_rs", "llm_refine", "lm_reply", "relax_up_tree", "decision_facts",
                     "brief_lists", "question_memory"):
            if type(getattr(self, name)) is not bool:
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.refinement not in REFINEMENTS:
            raise ValueError(f"refinement must be one of {', '.join(REFINEMENTS)}, got {self.refinement!r}")
        weight = self.similarity_weight
        if weight is not None and (type(weight) not in (int, float) or not weight >= 0):
            raise ValueError(f"similarity_weight must be a number >= 0 or null, got {weight!r}")
        if self.summary not in SUMMARIES:
            raise ValueError(f"summary must be one of {', '.join(SUMMARIES)}, got {self.summary!r}")


class AFIRS(dspy.Module):
    """``program(dialogue=[{"role", "content"}, …], history=[item ids, oldest first])`` →
    Prediction(action, items, question, reply, message, preferences, candidates, preselected, session, trace).
    Append ``message`` to the dialogue for the next turn: it carries the items shown and the session's state
    (``afirs_dspy.domain.session``); ``preselected`` is the list it would recommend now (None when deciding
    first to ask left it unrefined); ``session`` is what the turn read of the conversation (the state in
    force, what changed, the items excluded)."""

    def __init__(self, tree: PreferenceTree, tool: RecsysTool, catalog: Catalog, embedder: TextEmbedder,
                 node_vectors: np.ndarray, config: AFIRSConfig = AFIRSConfig(), item_vectors: np.ndarray | None = None):
        """``item_vectors`` (row i - 1: item i's catalog line, ``ProgramContext.item_vectors``) give the
        refinement score its similarity term."""
        super().__init__()
        self.config = config
        self.tree = tree
        self.catalog = catalog
        names = AttributeNames(tree, embedder)
        extractor = (
            SessionPreferenceExtractor(tree, embedder, node_vectors, config.top_children, config.max_per_level,
                                       config.extraction, names=names)
            if config.llm_to_rs else None
        )
        weights = ScoreWeights() if config.similarity_weight is None else ScoreWeights(similarity=config.similarity_weight)
        self.matcher = PreferenceMatcher(tree, catalog, embedder, item_vectors, weights)
        self.action_stage = ActionStage(SessionMemory(tree, catalog, names, extractor, config.question_memory), tool, catalog,
                                        config.n_candidates, config.n_recommend,
                                        tree.parent_keys() if config.relax_up_tree else None,
                                        self.matcher, config.summary, config.refinement)
        self.decision_stage = DecisionStage(tree, catalog, config.decision_facts)
        self.respond = predictor(WriteResponse)

    def forward(self, dialogue: list[dict], history: list[int], must_recommend: bool = False) -> dspy.Prediction:
        """``must_recommend``: recommend now, whatever the decision would be — the evaluation asks this at a turn where
        the method asked, for the list it would have recommended (DSR), without billing it to the method."""
        dialogue, history = check_inputs(dialogue, history, len(self.catalog))
        conversation = render_conversation(dialogue, self.config.brief_lists)
        memory = self.config.question_memory
        facts = read_conversation(self.tree, dialogue) if memory else ConversationFacts()
        trace: list[dict] = []
        decision = self.decision_stage
        if must_recommend:
            action = "recommend"
        elif not self.config.action_first:
            action = decision.choose(conversation, None, trace)
        # The score refinement costs no LM call, so deciding first to ask still knows the list it would recommend.
        refine = self.config.llm_refine and (self.config.action_first or action == "recommend"
                                             or self.config.refinement == "score")
        acted = self.action_stage(conversation=conversation, dialogue=dialogue, history=list(history), refine=refine)
        trace += acted.trace
        if self.config.action_first and not must_recommend:
            if acted.session.critiqued:
                # "more recent", "not a cartoon", "something different": the user asked for another list
                action = "recommend"
                trace.append({"step": "critique", "status": "ok", "errors": [],
                              "note": "the message critiqued the list: recommending, without asking the LM"})
            else:
                evidence = (self.matcher.evidence(acted.preselected, acted.preference_nodes, acted.preferences)
                            if self.config.decision_facts else None)
                action = decision.choose(conversation, acted.preselected, trace, evidence)
        aspect = decision.aspect(in_play(acted.recommendation, self.config.n_recommend), facts,
                                 acted.preference_nodes if memory else [])
        if action == "ask" and aspect is None and memory:
            action = "recommend"
            trace.append({"step": "no_question", "status": "ok", "errors": [],
                          "note": "no unsettled aspect splits the candidates: recommending"})
        question = decision.question(acted.preferences, aspect, trace) if action == "ask" and aspect else ""
        # Deciding first to ask with an LM refinement skips it: the list it would recommend is then not known here
        # (the evaluation asks with must_recommend).
        known = (action == "recommend" or refine == self.config.llm_refine
                 or len(acted.candidates) <= self.config.n_recommend)
        turn = finish_turn(
            self.catalog, action, acted.preselected, question, trace, rejected=acted.session.rejected,
            session=acted.session.state, preferences=[self.tree.path(n) for n in acted.preference_nodes],
            user_preferences=acted.preferences, candidates=acted.candidates,
            preselected=acted.preselected if known else None,
        )
        turn.session = acted.session
        if self.config.lm_reply:
            # An asking reply must still name the aspect's options, or the next turn cannot tell what was asked.
            check = (lambda text: decision.check_question(aspect, text)) if turn.action == "ask" and aspect else non_empty
            turn.reply = guarded_call(self.respond, lambda p: check(p.reply), lambda: turn.reply, trace, "reply",
                                      conversation=conversation, action=turn.action, content=turn.reply)
            turn.message = {**turn.message, "content": turn.reply}
        return turn


def in_play(recommendation: Recommendation, n_recommend: int) -> list[int]:
    """The candidates a question should split: those holding every preference of the session when there are
    more of them than a list shows, else all of them."""
    holding = [i for i, stage in zip(recommendation.items, recommendation.stages) if stage == PREFERENCES]
    return holding if len(holding) > n_recommend else list(recommendation.items)
