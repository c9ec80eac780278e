"""What the code reads in a user's words, in one place: words and clauses, negations, wish phrases and
their filler, and the words that carry a preference.

Everything here is plain text in, plain values out (no catalog, no tree, no LM): the domain maps the
phrases to attributes and items, the programs decide what to do with them.
"""
from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# A name after one of these in its clause is rejected ("not horror", "no zombies", "don't" → "don", "t").
NEGATIONS = frozenset({"not", "no", "without", "never", "nor", "t", "avoid", "except", "dislike", "hate"})
# Words before a wish that refuse it: the negations and a few ways to say "none of it".
REFUSALS = NEGATIONS | {"nothing", "none", "neither", "skip", "tired", "sick", "enough"}
CLAUSE_BREAK = re.compile(r"[.,;:!?\n]|\bbut\b", re.IGNORECASE)
WISH_BREAK = re.compile(r"[.,;:!?\n]|\b(?:and|but|with|also|or|plus)\b", re.IGNORECASE)
# Words of a request that name no wish ("I'm in the mood for a … movie"): stop words and request words.
FILLER = ENGLISH_STOP_WORDS | {
    "movie", "movies", "film", "films", "game", "games", "product", "products", "mood", "want", "like", "looking",
    "recommend", "suggest", "need", "fit", "m", "s", "d", "ll", "ve", "t",
}
# Words that carry no preference: a phrase is matched (and grounded in the user's words) by the others.
STOPWORDS = frozenset(
    "a an the of with and or to in on for at by from about some something anything any it its is are be "
    "that this these those very really quite more less much one ones i me my we you your please like want "
    "would love kind sort type".split()
)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> tuple[str, ...]:
    """Lower-cased alphanumeric words in the singular ("Comedies" → "comedy", "don't" → "don", "t")."""
    return tuple(_singular(w) for w in re.findall(r"[^\W_]+", text.casefold()))


def content_words(phrase: str) -> tuple[str, ...]:
    """The words of ``phrase`` that say what is wanted: no stopwords, no negations."""
    return tuple(w for w in words(phrase) if w not in STOPWORDS and w not in NEGATIONS)


def without_refusal(phrase: str) -> str:
    """'no zombies' → 'zombies', "don't like gore" → 'like gore'."""
    return " ".join(token for token in phrase.split() if not set(words(token)) & REFUSALS)


def wish_phrases(text: str) -> list[str]:
    """The parts of ``text`` between punctuation and conjunctions, each with a word in it."""
    return [phrase.strip() for phrase in WISH_BREAK.split(text) if words(phrase)]


def wishes(text: str) -> list[str]:
    """The wish phrases of ``text`` without filler words; a negated phrase ("not too long") wishes for
    nothing (conversation_facts drops the options it rejects)."""
    found = []
    for phrase in wish_phrases(text):
        kept = [token for token in re.findall(r"[^\W_]+", phrase) if token.casefold() not in FILLER]
        if kept and not NEGATIONS & set(words(phrase)):
            found.append(" ".join(kept))
    return found
