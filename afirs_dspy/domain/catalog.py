"""How items appear in prompts and replies, and mapping free-text titles back to catalog ids."""
from __future__ import annotations

import difflib

import pandas as pd

from afirs_dspy.utils.shared_resource import SharedResource
from afirs_dspy.text.title_forms import released_year, title_key, title_variants, title_year

YEAR_TOLERANCE = 1  # a named year may be off by one (festival vs release year); remakes are further apart
# Attributes on an item's line where a prompt lists many items (candidates to pick from, tool results): every
# item line is ~10 prompt tokens shorter than with the default 5, on a CPU model a second per 50 items.
SHORT_LINE = 3


class Catalog(SharedResource):
    """Read-only view of a dataset's items table (idx 1..n, title, description, attributes)."""

    def __init__(self, items: pd.DataFrame):
        self.titles = [""] + items.title.tolist()
        self.descriptions = [""] + items.description.fillna("").tolist()
        self.attributes = [[]] + items.attributes.tolist()
        self._title_years = [None] + [title_year(t) for t in self.titles[1:]]  # a named title's year must agree
        # When an item came out: its title's year ("Heat (1995)"), else its description's release date
        self.years = [t or released_year(d) for t, d in zip(self._title_years, self.descriptions)]
        self._by_key: dict[str, list[int]] = {}  # every variant's key → its items, in catalog order
        for idx, title in enumerate(self.titles[1:], start=1):
            for variant in title_variants(title):
                holders = self._by_key.setdefault(title_key(variant), [])
                if idx not in holders:
                    holders.append(idx)

    def __len__(self) -> int:
        return len(self.titles) - 1

    def line(self, idx: int, n_attributes: int = 5) -> str:
        """'Title — attr, attr, …' for prompts."""
        attributes = ", ".join(self.attributes[idx][:n_attributes])
        return f"{self.titles[idx]} — {attributes}" if attributes else self.titles[idx]

    def numbered(self, items: list[int], n_attributes: int = 5) -> list[str]:
        return [f"{n}. {self.line(idx, n_attributes)}" for n, idx in enumerate(items, start=1)]

    def match_title(self, title: str, cutoff: float = 0.85) -> int | None:
        """The catalog id of a free-text title, matched through every form of both ("The Matrix" is
        "Matrix, The (1999)"): exact up to case and punctuation, else the closest forms above ``cutoff``
        similarity, else None. A year in ``title`` must agree (within ``YEAR_TOLERANCE``) with the
        item's, so remakes stay apart; without one the first item in catalog order is taken."""
        year = title_year(title)
        keys = [title_key(v) for v in title_variants(title)]
        found = self._pick([k for k in keys if k in self._by_key], year)
        if found is None:
            close = [c for k in keys for c in difflib.get_close_matches(k, self._by_key, n=3, cutoff=cutoff)]
            found = self._pick(close, year)
        return found

    def _pick(self, keys: list[str], year: int | None) -> int | None:
        """The item of ``keys`` (best first) whose year is closest to ``year``; items without a year
        in their title accept any."""
        items = list(dict.fromkeys(i for k in keys for i in self._by_key[k]))
        if year is None:
            return items[0] if items else None
        gaps = {i: 0 if self._title_years[i] is None else abs(self._title_years[i] - year) for i in items}
        return min((i for i in items if gaps[i] <= YEAR_TOLERANCE), key=gaps.get, default=None)
