"""The decision stage (paper 4.2): recommend the pre-selected items or ask an information-maximizing
question. The aspect to ask about is chosen in code (the highest expected information gain over the
candidates, leaving out what the conversation has settled); the LM only phrases the question, which
must name the aspect's options, so the next turn can tell from the dialogue what was asked."""
from __future__ import annotations

import dspy

from afirs_dspy.domain.candidate_distribution import Aspect, split_aspects
from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.conversation_facts import ConversationFacts, asked_aspects
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.programs.decision_policies import recommend_if_share
from afirs_dspy.programs.guarded import InvalidOutput, guarded_call, non_empty
from afirs_dspy.programs.preference_match import ItemEvidence
from afirs_dspy.programs.turn import GENERIC_QUESTION
from afirs_dspy.programs.predictors import predictor
from afirs_dspy.signatures import AskQuestion, DecideAction, DecideFromConversation, DecideFromEvidence, UserPreferences


def spoken_options(aspect: Aspect, count: int = 3) -> str:
    names = [name for name, _ in aspect.options[:count]]
    # one splitting option is a yes/no question: say the "no" too
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else f"{names[0]}, or something else"


def fallback_question(tree: PreferenceTree, aspect: Aspect | None) -> str:
    """A template question about ``aspect`` that reads back as that aspect (the generic one without)."""
    if aspect is None:
        return GENERIC_QUESTION
    # A name joined from the group's attributes ("Fantasy, quirky") is a list, not an aspect to ask about.
    if "," not in aspect.name:
        question = f"Do you have a preference regarding {aspect.name.lower()}, such as {spoken_options(aspect)}?"
        if asked_aspects(tree, question) == {aspect.id}:
            return question
    return f"Which would you like: {spoken_options(aspect)}?"  # the aspect's name itself named other options


class DecisionStage(dspy.Module):
    """Called step by step (``choose``, then ``aspect`` and ``question`` when asking), so the program can
    put the decision before or after the action stage. ``decision_facts``: the LM also sees computed
    evidence about the items (``ItemEvidence``), and an unusable answer falls back to the evidence's
    policy (recommend iff the match share reaches the threshold) instead of a second full prompt."""

    def __init__(self, tree: PreferenceTree, catalog: Catalog, decision_facts: bool = False):
        super().__init__()
        self.tree = tree
        self.catalog = catalog
        self.decision_facts = decision_facts
        self.decide = predictor(DecideFromEvidence if decision_facts else DecideAction)
        self.decide_first = predictor(DecideFromConversation)
        self.ask = predictor(AskQuestion)

    def choose(self, conversation: str, items: list[int] | None, trace: list[dict],
               evidence: ItemEvidence | None = None) -> str:
        """recommend | ask: from the conversation and the items (catalog ids; action first), or from the
        conversation alone when ``items`` is None (decision first). Unusable output → ask (with
        ``decision_facts``: the evidence's policy). With the evidence the LM sees the items' titles only:
        the evidence already states how their attributes match, in fewer prompt tokens."""
        if items is None:
            return guarded_call(self.decide_first, lambda p: p.action, lambda: "ask", trace, "decide",
                                conversation=conversation)
        if self.decision_facts:
            if evidence is None:
                raise ValueError("decision_facts needs the items' evidence")
            return guarded_call(self.decide, lambda p: p.action, lambda: recommend_if_share()(evidence), trace,
                                "decide", attempts=1, conversation=conversation,
                                items=[self.catalog.titles[i] for i in items], evidence=evidence.render())
        return guarded_call(self.decide, lambda p: p.action, lambda: "ask", trace, "decide",
                            conversation=conversation, items=[self.catalog.line(i) for i in items])

    def aspect(self, candidates: list[int], facts: ConversationFacts, preference_nodes: list[int]) -> Aspect | None:
        """The unsettled aspect with the highest expected information gain; None when none splits the candidates."""
        best = split_aspects(self.tree, candidates, top=1, exclude_aspects=facts.settled_aspects(self.tree, preference_nodes),
                             exclude_options=facts.stated | facts.rejected)
        return best[0] if best else None

    def check_question(self, aspect: Aspect, text: str) -> str:
        """``text`` if it is a question that names ``aspect``'s options more than any other aspect's (so it
        reads back as that aspect alone), else InvalidOutput."""
        text = non_empty(text)
        if "?" not in text or asked_aspects(self.tree, text) != {aspect.id}:
            raise InvalidOutput(f"the question must ask about {aspect.name!r}, naming options such as {spoken_options(aspect)}")
        return text

    def question(self, preferences: UserPreferences, aspect: Aspect, trace: list[dict]) -> str:
        # No retry: the template asks about the same aspect, as well as a second prompt would.
        return guarded_call(
            self.ask, lambda p: self.check_question(aspect, p.question), lambda: fallback_question(self.tree, aspect),
            trace, "ask", attempts=1, preferences=preferences, candidate_distribution=aspect.render(),
        )
