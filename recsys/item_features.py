"""The item side information SASRec can embed: each item's catalog attributes, developer and publisher.

Steam items carry 362 tags, genres and specs as attributes, and their developer and publisher in
the description (``developer: X; publisher: Y; …``, as the Steam reader writes it); MovieLens items
their genres and user tags; Beauty items their brand and categories. A feature carried by a single
item says nothing about any other item, so only features shared by ``min_items`` items are kept.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from afirs_dspy.recsys.item_index import normalize_key

DESCRIPTION_FIELDS = ("developer", "publisher")
# "key: value" pairs joined by "; " (``afirs_dspy.data.sources.common.describe``); a value may hold "; ".
_FIELD = re.compile(r"(\w+): (.*?)(?=; \w+: |$)")
MIN_ITEMS = 2


@dataclass(frozen=True)
class ItemFeatures:
    """Item → feature indices in CSR form over item indices 0..n_items (row 0, padding, is empty).

    ``ids[offsets[i]:offsets[i + 1]]`` are item i's features, indices into ``names``.
    """

    ids: np.ndarray
    offsets: np.ndarray
    names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.names)

    @property
    def n_items(self) -> int:
        return len(self.offsets) - 2


def description_features(description: str) -> list[str]:
    """"developer: X" and "publisher: Y" from a catalog description, when it names them."""
    fields = dict(_FIELD.findall(description or ""))
    return [f"{key}: {fields[key]}" for key in DESCRIPTION_FIELDS if fields.get(key)]


def item_features(items: pd.DataFrame, min_items: int = MIN_ITEMS) -> ItemFeatures:
    """The features of a catalog (columns idx, attributes, description; idx = 1..n in order)."""
    per_item = [{normalize_key(f) for f in list(attributes) + description_features(description)}
                for attributes, description in zip(items["attributes"], items["description"])]
    pairs = pd.DataFrame({"item": np.repeat(items["idx"].to_numpy(), [len(f) for f in per_item]),
                          "feature": [f for features in per_item for f in sorted(features)]})
    support = pairs["feature"].map(pairs["feature"].value_counts())
    pairs = pairs[support >= min_items]
    codes, names = pd.factorize(pairs["feature"], sort=True)
    pairs = pairs.assign(code=codes).sort_values(["item", "code"])
    lengths = np.bincount(pairs["item"].to_numpy(), minlength=len(items) + 1)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return ItemFeatures(pairs["code"].to_numpy(np.int64), offsets, tuple(names))
