"""The tables every data source produces, before and after preprocessing.

Item indices in a :class:`PreparedDataset` run from 1 to ``n_items``; 0 is kept for
padding so that sequence models can use the indices directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# The tables of a PreparedDataset, as cached and as hashed into its data key.
PREPARED_TABLES = ("items", "train", "valid", "test")
# Columns of the raw tables a source reader returns.
INTERACTION_COLUMNS = ["user", "item", "timestamp", "rating"]
USER_ATTRIBUTE_COLUMNS = ["user", "item", "attribute"]
CATALOG_COLUMNS = ["item", "title", "description", "attributes"]


@dataclass
class RawDataset:
    """What a source reader returns: all interactions and the item catalog.

    ``interactions`` has columns user (str), item (str), timestamp (int64: seconds, or
    the position in the file where a source has only an order) and rating (float,
    NaN where the source has none), in file order. ``catalog`` has item (str), title,
    description and attributes (list of str). Sources that come pre-split set
    ``windows`` instead of ``interactions``: columns split, history (list of item
    ids) and target (item id).

    ``user_attributes`` (user, item, attribute; file order) holds attributes that users gave
    items, such as MovieLens tags. Preprocessing adds them to the catalog's attributes after the
    split, except those given in a held-out (valid or test) interaction: a tag that the user wrote
    on their own target is evidence of the held-out interaction itself.
    """

    catalog: pd.DataFrame
    interactions: pd.DataFrame | None = None
    windows: pd.DataFrame | None = None
    user_attributes: pd.DataFrame | None = None
    has_ratings: bool = False
    has_timestamps: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class PreparedDataset:
    """A dataset after preprocessing, ready for training and simulation.

    - ``items``: one row per item index 1..n_items, in index order: idx, item_id
      (the source's id, as str), title, description, attributes (list of str).
    - ``train``: user, sequence (item indices, oldest first): what models train on.
    - ``valid`` / ``test``: user, history (item indices, oldest first), target.
      For leave-one-out data the valid history is the training sequence and the test
      history is that plus the valid target.
    - ``report``: counts per preprocessing stage and plain-language notes.
    """

    name: str
    items: pd.DataFrame
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    report: dict

    @property
    def data_key(self) -> str | None:
        """The digest of the prepared tables that artifacts are bound to (see ``fingerprint``)."""
        return self.report.get("data_key")

    @property
    def n_items(self) -> int:
        return len(self.items)

    def split(self, name: str) -> pd.DataFrame:
        """The valid or test table by name."""
        if name not in ("valid", "test"):
            raise ValueError(f"unknown split {name!r}: expected 'valid' or 'test'")
        return self.valid if name == "valid" else self.test

    def item(self, idx: int) -> pd.Series:
        """The catalog row of item index ``idx`` (1-based)."""
        return self.items.iloc[idx - 1]
