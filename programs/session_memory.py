"""The session's memory (issue 31): each user message read once and folded into the state the session has
established, so a turn acts on the whole conversation without the LM re-reading it.

A message is read in code (``user_words.read_message``): its wishes go to the preference extraction (the
only LM step, and only when there is a wish), what it refuses or takes back is mapped onto the tree's
attribute names, its time phrase becomes a range of years, "something different" moves away from the last
list. ``session.advance`` merges that into the state. The state travels in the dialogue (the assistant
message's ``session``), so the next turn reads only the new message; a text-only dialogue is rebuilt from
every user message (``extract`` is then called once per message, and DSPy's cache answers repeats).
"""
from __future__ import annotations

import dspy
import numpy as np

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.conversation_facts import ConversationFacts, read_conversation
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.domain.session import (
    MessageEffects, SessionState, advance, carried_state, excluded_items, item_mask, last_shown, rejected_items,
)
from afirs_dspy.programs.attribute_names import AttributeNames
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.text.user_words import read_message


class SessionMemory(dspy.Module):
    """``memory(dialogue=…)`` → Prediction(state, notes, rejected, critiqued, excluded, avoided, trace): the state
    after the dialogue's last user message, what changed in words, the items shown before and not taken, whether
    the last message critiqued the list, the items never to recommend now (rejected, refused, outside the years)
    and those to rank last.

    ``extractor=None`` (the "w/o LLM2RS" ablation): no preferences are extracted; the critiques still act."""

    def __init__(self, tree: PreferenceTree, catalog: Catalog, names: AttributeNames,
                 extractor: SessionPreferenceExtractor | None, read_answers: bool = True):
        """``read_answers=False``: the options a message names are not read against the aspects asked before
        it (before issue 22)."""
        super().__init__()
        self.tree = tree
        self.catalog = catalog
        self.names = names
        self.extractor = extractor
        self.read_answers = read_answers

    def effects(self, text: str, before: list[dict], trace: list[dict]) -> MessageEffects:
        """What one user message (said after ``before``) does to the session."""
        message = read_message(text)
        wished: tuple[int, ...] = ()
        if self.extractor is not None and message.wishes:
            # Options named in answer to an earlier question count within its aspect ("Drama and Musical").
            facts = (read_conversation(self.tree, [*(m for m in before if m["role"] == "assistant"),
                                                   {"role": "user", "content": text}])
                     if self.read_answers else ConversationFacts())
            extracted = self.extractor(user_responses=text, facts=facts, wishes=message.wishes)
            trace += extracted.trace
            wished = tuple(extracted.preferences)
        return MessageEffects(wished=wished, refused=self.names.refused(message.refused),
                              withdrawn=self.names.nodes(message.withdrawn), year=message.year,
                              different=message.different, changes_mind=message.changes_mind)

    def forward(self, dialogue: list[dict]) -> dspy.Prediction:
        trace: list[dict] = []
        carried = carried_state(dialogue, self.tree)
        start, state = (carried[0] + 1, carried[1]) if carried else (0, SessionState())
        notes: list[str] = []
        critiqued = False
        for position in range(start, len(dialogue)):
            if dialogue[position]["role"] != "user":
                continue
            before = dialogue[:position]
            effects = self.effects(dialogue[position]["content"], before, trace)
            shown = last_shown(before, self.catalog)
            state, changed = advance(state, effects, self.tree, self.catalog, shown)
            notes += changed
            critiqued = effects.critiques and bool(shown)  # a first message's "no horror" critiques no list
        rejected = rejected_items(dialogue, self.catalog)
        return dspy.Prediction(
            state=state, notes=notes, rejected=rejected, critiqued=critiqued,
            excluded=excluded_items(state, self.tree, self.catalog, rejected).tolist(),
            avoided=np.flatnonzero(item_mask(self.tree, state.avoided)).tolist(), trace=trace,
        )
