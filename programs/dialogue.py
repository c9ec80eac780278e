"""What a program receives each turn (the dialogue and the user's history), checked, and the
dialogue rendered for prompts."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from afirs_dspy.domain.session import RECOMMENDATION_PREFIX

ROLES = ("user", "assistant")


def check_inputs(dialogue: list[dict], history: Sequence[int], n_items: int) -> tuple[list[dict], list[int]]:
    """One turn's inputs checked (ValueError saying what is wrong): the dialogue with any lone surrogate
    replaced (no LM can receive one; a remote LM's reply may hold one), and the history as a list of ints."""
    check_dialogue(dialogue)
    repaired = [{**turn, "content": valid_unicode(turn["content"])} for turn in dialogue]
    return repaired, check_history(history, n_items)


def valid_unicode(text: str) -> str:
    """``text`` with each lone surrogate replaced by "?": no LM can receive one, a remote LM may send one."""
    return text.encode("utf-8", "replace").decode("utf-8")


def check_history(history: Sequence[int], n_items: int) -> list[int]:
    """The history as a list of item ids; ValueError unless each is a whole number in 1..``n_items``."""
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, (Sequence, np.ndarray)):
        raise ValueError(f"the history must be a list of item ids, got {type(history).__name__}")
    bad = [i for i in history if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 1 <= i <= n_items]
    if bad:
        raise ValueError(f"history ids {bad[:5]!r} are not item ids in 1..{n_items}")
    return [int(i) for i in history]


def check_dialogue(dialogue: list[dict]) -> None:
    """A dialogue is a non-empty list of {"role": "user"|"assistant", "content": str}, ending with the user."""
    if not isinstance(dialogue, list):
        raise ValueError(f"the dialogue must be a list of {{'role', 'content'}} turns, got {type(dialogue).__name__}")
    if not dialogue:
        raise ValueError("the dialogue is empty: it must end with a user message")
    for turn in dialogue:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise ValueError(f"bad dialogue turn {turn!r}: expected role 'user' or 'assistant' and str content")
    if dialogue[-1]["role"] != "user":
        raise ValueError("the dialogue must end with a user message")


def render_conversation(dialogue: list[dict], brief_lists: bool = False) -> str:
    """The dialogue as "User: …" / "Recommender: …" lines. ``brief_lists``: a recommendation the programs'
    template wrote shows how many titles it listed, not the titles (a small model copied a rejected list of
    ten into the summary's dislikes: ~150 generated tokens, ~35 s)."""
    def shown(turn: dict) -> str:
        text = turn["content"]
        if brief_lists and turn["role"] == "assistant" and text.startswith(RECOMMENDATION_PREFIX):
            return f"{RECOMMENDATION_PREFIX}[{len(text[len(RECOMMENDATION_PREFIX):].split('; '))} titles]"
        return text

    return "\n".join(f"{'User' if t['role'] == 'user' else 'Recommender'}: {shown(t)}" for t in dialogue)


def user_responses(dialogue: list[dict]) -> str:
    """Everything the user said so far (U_response in the paper)."""
    return "\n".join(t["content"] for t in dialogue if t["role"] == "user")

