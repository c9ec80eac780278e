"""The summary of the user's preferences checked against the user's own words (issue 15).

A small model invents (it copied a field's example constraint into its answer) and flips wishes
(a requested "scary" put in dislikes). So, after the LM call: a like, dislike or constraint whose
content words are not all in the user's turns is dropped; a like that the user negated ("not
horror", "no zombies": a negation before it in the same clause, the latest mention deciding) moves
to the dislikes; a dislike the user asked for without a negation is dropped. When no like survives,
the extracted preference nodes' names (those the user did not negate) are the likes.
"""
from __future__ import annotations

from collections.abc import Sequence

from afirs_dspy.signatures import UserPreferences
from afirs_dspy.text.user_words import CLAUSE_BREAK, REFUSALS, content_words, without_refusal, words


def _negated_in(phrase: tuple[str, ...], user_text: str) -> bool | None:
    """None when a word of ``phrase`` is not in ``user_text``; else whether its latest mention (the
    last clause holding all its words) has a negation before them."""
    said = set(words(user_text))
    if not phrase or not set(phrase) <= said:
        return None
    negated = False
    for clause in CLAUSE_BREAK.split(user_text):
        tokens = words(clause)
        if set(phrase) <= set(tokens):
            first = min(tokens.index(w) for w in phrase)
            negated = any(t in REFUSALS for t in tokens[:first])
    return negated


def _unique(phrases: list[str]) -> list[str]:
    """Each phrase once (case and spacing ignored), first spelling kept."""
    first: dict[str, str] = {}
    for phrase in phrases:
        first.setdefault(" ".join(phrase.split()).casefold(), phrase.strip())
    return list(first.values())


def check_summary(preferences: UserPreferences, user_text: str,
                  fallback_likes: Sequence[str] = ()) -> tuple[UserPreferences, list[str]]:
    """(the checked preferences, one note per change)."""
    likes: list[str] = []
    dislikes: list[str] = []
    notes: list[str] = []
    for like in preferences.likes:
        negated = _negated_in(content_words(like), user_text)
        if negated is None:
            notes.append(f"dropped like {like!r}: not in the user's words")
        elif negated or without_refusal(like) != like.strip():
            dislikes.append(without_refusal(like))
            notes.append(f"moved like {like!r} to dislikes: the user negated it")
        else:
            likes.append(like)
    for dislike in preferences.dislikes:
        negated = _negated_in(content_words(dislike), user_text)
        if negated is None:
            notes.append(f"dropped dislike {dislike!r}: not in the user's words")
        elif not negated and without_refusal(dislike) == dislike.strip():
            notes.append(f"dropped dislike {dislike!r}: the user asked for it")
        else:
            dislikes.append(without_refusal(dislike))
    constraints = [c for c in preferences.constraints if _negated_in(content_words(c), user_text) is not None]
    notes += [f"dropped constraint {c!r}: not in the user's words" for c in preferences.constraints if c not in constraints]
    if not likes:
        likes = [name for name in fallback_likes if not _negated_in(content_words(name), user_text)]
        if likes:
            notes.append(f"no like survived: the extracted preferences {likes} are the likes")
    return UserPreferences(likes=_unique(likes), dislikes=_unique(dislikes), constraints=_unique(constraints)), notes
