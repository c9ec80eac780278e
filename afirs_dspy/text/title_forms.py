"""The forms a catalog title is written in, shared by title matching and leak detection.

MovieLens writes "Matrix, The (1999)": the same film is "The Matrix", from 1999. Alternative titles
in parentheses ("Seven (a.k.a. Se7en) (1995)") are forms of their own.
"""
from __future__ import annotations

import re

_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_PARENS = re.compile(r"\s*\(([^)]*)\)")
_RELEASED = re.compile(r"\breleased: (\d{4})\b")
_ARTICLE = re.compile(r"^(.*), (The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$", re.I)


def title_year(title: str) -> int | None:
    """The year a title ends with, as in "Heat (1995)", else None."""
    match = _YEAR.search(title)
    return int(match.group(1)) if match else None


def released_year(description: str) -> int | None:
    """The year of a description's release date ("…; released: 2018-01-04; …"), else None."""
    match = _RELEASED.search(description)
    return int(match.group(1)) if match else None


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
    return [f for f in dict.fromkeys(f.strip() for f in forms) if f]


def title_key(text: str) -> str:
    """Case- and punctuation-insensitive form of a text: "Ocean's Eleven" → "ocean s eleven"."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
