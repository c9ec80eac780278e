"""How items appear in prompts and replies, and mapping free-text titles back to catalog ids."""
from __future__ import annotations

import difflib
import re

import pandas as pd

from afirs_dspy.shared_resource import SharedResource

_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


def _title_key(title: str) -> str:
    """Case-, punctuation- and year-insensitive form of a title."""
    return " ".join(re.sub(r"[^\w\s]", " ", _YEAR.sub("", title).casefold()).split())


class Catalog(SharedResource):
    """Read-only view of a dataset's items table (idx 1..n, title, description, attributes)."""

    def __init__(self, items: pd.DataFrame):
        self.titles = [""] + items.title.tolist()
        self.descriptions = [""] + items.description.fillna("").tolist()
        self.attributes = [[]] + items.attributes.tolist()
        self._by_key: dict[str, int] = {}
        for idx, title in enumerate(self.titles[1:], start=1):
            self._by_key.setdefault(_title_key(title), idx)

    def __len__(self) -> int:
        return len(self.titles) - 1

    def line(self, idx: int, n_attributes: int = 5) -> str:
        """'Title — attr, attr, …' for prompts."""
        attributes = ", ".join(self.attributes[idx][:n_attributes])
        return f"{self.titles[idx]} — {attributes}" if attributes else self.titles[idx]

    def numbered(self, items: list[int]) -> list[str]:
        return [f"{n}. {self.line(idx)}" for n, idx in enumerate(items, start=1)]

    def match_title(self, title: str, cutoff: float = 0.85) -> int | None:
        """The catalog id of a free-text title: exact up to case, punctuation and year, else the
        closest title above ``cutoff`` similarity, else None."""
        key = _title_key(title)
        if key in self._by_key:
            return self._by_key[key]
        close = difflib.get_close_matches(key, self._by_key, n=1, cutoff=cutoff)
        return self._by_key[close[0]] if close else None
