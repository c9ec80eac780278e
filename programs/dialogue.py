"""The dialogue a program receives each turn, rendered for prompts, and template replies."""
from __future__ import annotations

ROLES = ("user", "assistant")


def check_dialogue(dialogue: list[dict]) -> None:
    """A dialogue is a non-empty list of {"role": "user"|"assistant", "content": str}, ending with the user."""
    if not dialogue:
        raise ValueError("the dialogue is empty: it must end with a user message")
    for turn in dialogue:
        if turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            raise ValueError(f"bad dialogue turn {turn!r}: expected role 'user' or 'assistant' and str content")
    if dialogue[-1]["role"] != "user":
        raise ValueError("the dialogue must end with a user message")


def render_conversation(dialogue: list[dict]) -> str:
    return "\n".join(f"{'User' if t['role'] == 'user' else 'Recommender'}: {t['content']}" for t in dialogue)


def user_responses(dialogue: list[dict]) -> str:
    """Everything the user said so far (U_response in the paper)."""
    return "\n".join(t["content"] for t in dialogue if t["role"] == "user")

