"""Items as titles for prompts, and titles an LM names from its own knowledge mapped back to catalog
ids (the baselines without tools)."""
from __future__ import annotations

from collections.abc import Collection

import dspy

from afirs_dspy.domain.catalog import Catalog


def recent_titles(catalog: Catalog, history: list[int], n: int) -> list[str]:
    """The titles of the user's ``n`` latest items, oldest first."""
    return [catalog.titles[i] for i in list(history)[-n:]]


def match_titles(catalog: Catalog, titles: list[str], exclude: Collection[int], trace: list[dict]) -> list[int]:
    """The catalog ids of ``titles`` in their order, each once, none in ``exclude``; titles with no
    catalog match are dropped and listed in ``trace``."""
    matched = [catalog.match_title(t) for t in titles]
    unmatched = [t for t, i in zip(titles, matched) if i is None]
    trace.append({"step": "match_titles", "status": "ok", "unmatched": unmatched})
    return list(dict.fromkeys(i for i in matched if i is not None and i not in exclude))


class TitleRecommender(dspy.Module):
    """Base of the baselines that recommend from the LM's own knowledge, with no recommender tool:
    they show the user's recent items by title and map the titles the LM names back with
    :func:`match_titles`."""

    def __init__(self, catalog: Catalog, domain: str, n_recommend: int = 10, history_shown: int = 10):
        super().__init__()
        self.catalog = catalog
        self.domain = domain
        self.n_recommend = n_recommend
        self.history_shown = history_shown

    def recent(self, history: list[int]) -> list[str]:
        """The titles of the user's ``history_shown`` latest items, oldest first."""
        return recent_titles(self.catalog, history, self.history_shown)
