"""Which of a target's attributes a simulated user may say.

An attribute is speakable when at least ``min_support`` catalog items carry it (case ignored), so no
single attribute names the target, and it neither is a fragment of the target's title ("pulp" for
"Pulp Fiction (1994)", also through "Title, The (Year)" forms and the year) nor names the title.
Tags a user wrote on their own held-out items are not in the catalog's attributes at all: the
preprocessing drops them.
"""
from __future__ import annotations

from collections import Counter

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.evaluation.leakage import is_title_fragment, names_title


MIN_SUPPORT = 5  # items that must share an attribute before a simulated user may say it


class SpeakableAttributes:
    """``of(item)``: the attributes of ``item`` a user may say, with supports counted over ``catalog``."""

    def __init__(self, catalog: Catalog, min_support: int):
        if min_support < 2:
            raise ValueError("min_support must be at least 2: an attribute of one item names it")
        self.catalog = catalog
        self.min_support = min_support
        self.support = Counter(a for attributes in catalog.attributes
                               for a in {x.strip().casefold() for x in attributes} if a)

    def of(self, item: int) -> list[str]:
        """``item``'s speakable attributes in catalog order, repeats dropped."""
        title = self.catalog.titles[item]
        return [a for a in dict.fromkeys(a.strip() for a in self.catalog.attributes[item])
                if a and self.support[a.casefold()] >= self.min_support
                and not is_title_fragment(a, title) and not names_title(a, title)]
