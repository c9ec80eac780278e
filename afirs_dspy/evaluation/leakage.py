"""Does a simulated user's text name the target title? Fuzzy detection and stripping (pure functions).

As in iEvaLM and InteRecAgent, a user simulator must not simply tell the recommender the title it is
looking for. A title counts as named when a run of words in the text is at least ``threshold`` similar
(difflib ratio, case, punctuation and the release year ignored) to the title or one of its variants:
"Matrix, The (1999)" is also "The Matrix"; "Seven (a.k.a. Se7en) (1995)" is also "Seven" and "Se7en".
Short one-word titles ("Up", "Heat", "Alien") only count when written exactly as in the title, so everyday
words ("aliens") are not taken for titles.
"""
from __future__ import annotations

import difflib
import re

THRESHOLD = 0.85
PLACEHOLDER = "that title"
SHORT_TITLE = 8  # one-word variants shorter than this must match exactly, case included

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_PARENS = re.compile(r"\s*\(([^)]*)\)")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$", re.I)
_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def title_variants(title: str) -> list[str]:
    """The forms a title may be written in, as original-case strings without the year."""
    base = _YEAR.sub("", title).strip()
    forms = [base]
    outside = _PARENS.sub("", base).strip()
    forms.append(outside)
    for inside in _PARENS.findall(base):
        forms.append(re.sub(r"^(a\.k\.a\.|aka)\s*", "", inside.strip(), flags=re.I))
    for form in list(forms):
        moved = _ARTICLE.match(form)
        if moved:
            forms.append(f"{moved.group(2)} {moved.group(1)}")
    return [f for f in dict.fromkeys(f.strip() for f in forms) if re.search(r"[^\W\d_]", f)]


def _spans_of(text: str, variant: str, threshold: float) -> list[tuple[float, int, int]]:
    """(similarity, start, end) of every run of words in ``text`` that matches ``variant``."""
    tokens = list(_WORD.finditer(text))
    target_words = _words(variant)
    if len(target_words) == 1 and len(target_words[0]) < SHORT_TITLE:
        exact = _WORD.findall(variant)[0]
        return [(1.0, m.start(), m.end()) for m in tokens if m.group() == exact]
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
    candidates = [span for variant in title_variants(title) for span in _spans_of(text, variant, threshold)]
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
