"""Does a simulated user's text name the target title? Fuzzy detection and stripping (pure functions).

As in iEvaLM and InteRecAgent, a user simulator must not simply tell the recommender the title it is
looking for. A title counts as named when a run of words in the text is at least ``threshold`` similar
(difflib ratio, case, punctuation and the release year ignored) to the title or one of its variants:
"Matrix, The (1999)" is also "The Matrix"; "Seven (a.k.a. Se7en) (1995)" is also "Seven" and "Se7en".
Short one-word titles ("Heat", "Jumanji", "Se7en") count as whole words in any case ("heat" names "Heat (1995)",
"aliens" does not name "Alien"), except those that are everyday function words ("Up", "It", "Her"), which
count only as written in the title.
"""
from __future__ import annotations

import difflib
import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from afirs_dspy.text.title_forms import title_variants, title_year

THRESHOLD = 0.85
PLACEHOLDER = "that title"
SHORT_TITLE = 8  # one-word variants shorter than this must match exactly, case included

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _spans_of(text: str, variant: str, threshold: float) -> list[tuple[float, int, int]]:
    """(similarity, start, end) of every run of words in ``text`` that matches ``variant``."""
    tokens = list(_WORD.finditer(text))
    target_words = _words(variant)
    if len(target_words) == 1 and len(target_words[0]) < SHORT_TITLE:
        word = target_words[0]
        if word in ENGLISH_STOP_WORDS:
            exact = _WORD.findall(variant)[0]
            return [(1.0, m.start(), m.end()) for m in tokens if m.group() == exact]
        return [(1.0, m.start(), m.end()) for m in tokens if m.group().casefold() == word]
    key = " ".join(target_words)
    found = []
    for size in {max(1, len(target_words) - 1), len(target_words), len(target_words) + 1}:
        for first in range(len(tokens) - size + 1):
            window = tokens[first:first + size]
            candidate = " ".join(m.group().casefold() for m in window)
            ratio = difflib.SequenceMatcher(None, candidate, key).ratio()
            if ratio >= threshold:
                found.append((ratio, window[0].start(), window[-1].end()))
    return found


def find_title(text: str, title: str, threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """Character spans of ``text`` that name ``title``, best matches first, non-overlapping, in text order."""
    variants = [v for v in title_variants(title) if re.search(r"[^\W\d_]", v)]  # a bare number is no title
    candidates = [span for variant in variants for span in _spans_of(text, variant, threshold)]
    chosen: list[tuple[int, int]] = []
    for _, start, end in sorted(candidates, key=lambda s: (-s[0], -(s[2] - s[1]), s[1])):
        if all(end <= s or start >= e for s, e in chosen):
            chosen.append((start, end))
    return sorted(chosen)


def names_title(text: str, title: str, threshold: float = THRESHOLD) -> bool:
    return bool(find_title(text, title, threshold))


def strip_title(text: str, title: str, threshold: float = THRESHOLD, placeholder: str = PLACEHOLDER) -> str:
    """``text`` with every mention of ``title`` replaced by ``placeholder``."""
    for start, end in reversed(find_title(text, title, threshold)):
        text = text[:start] + placeholder + text[end:]
    return text


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def is_title_fragment(text: str, title: str) -> bool:
    """Is ``text`` a run of the words of ``title`` (any variant) or its year, case, punctuation and a
    plural s ignored? "pulp" and "lord of the rings" are fragments of "Pulp Fiction (1994)" and "Lord of
    the Rings: The Fellowship of the Ring, The (2001)", "alien" of "Aliens (1986)", "1994" of the first."""
    words = [_stem(w) for w in _words(text)]
    if not words:
        return False
    year = title_year(title)
    forms = [[_stem(w) for w in _words(v)] for v in title_variants(title)] + ([[str(year)]] if year else [])
    return any(form[i:i + len(words)] == words for form in forms for i in range(len(form) - len(words) + 1))
