"""Inverted index from a key (an attribute, a preference-tree node) to the items that carry it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


def normalize_key(key: str) -> str:
    """Keys match case-insensitively and ignore repeated or surrounding whitespace."""
    return " ".join(str(key).split()).casefold()


class ItemIndex:
    """key -> sorted, unique item indices, stored as one int32 array plus offsets (CSR).

    Keys that normalise to the same string (``"Free to Play"`` / ``"free to play"``)
    share one entry holding the union of their items.
    """

    def __init__(self, keys: Sequence[str], items: Sequence[int], n_items: int,
                 empty_keys: Iterable[str] = ()):
        """Build from parallel (key, item) pairs (duplicates are fine), plus keys that have no items."""
        items = np.asarray(items, dtype=np.int64).reshape(-1)
        keys = np.asarray(keys, dtype=object).reshape(-1)
        raw_codes, raw_names = pd.factorize(np.concatenate([keys, np.array(list(empty_keys), dtype=object)]))
        # Normalise each distinct key once, not once per pair.
        merged, names = pd.factorize(np.array([normalize_key(k) for k in raw_names], dtype=object), sort=True)
        codes = merged[raw_codes[:len(keys)]]
        if len(codes) != len(items):
            raise ValueError(f"{len(codes)} keys but {len(items)} items")
        if items.size and (items.min() < 1 or items.max() > n_items):
            raise ValueError(f"item indices must lie in 1..{n_items}")
        # Sorting by (key, item) groups each key's items in ascending order; then drop repeats.
        order = np.lexsort((items, codes))
        codes, items = codes[order], items[order]
        first = np.ones(len(codes), dtype=bool)
        first[1:] = (codes[1:] != codes[:-1]) | (items[1:] != items[:-1])
        codes, items = codes[first], items[first]
        self.n_items = n_items
        self._rows = {name: row for row, name in enumerate(names)}
        self._items = items.astype(np.int32)
        self._offsets = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(names)))])

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Iterable[int]], n_items: int) -> ItemIndex:
        """From any key -> item indices mapping (e.g. preference-tree node -> items)."""
        arrays = [np.asarray(list(values), dtype=np.int64).reshape(-1) for values in mapping.values()]
        keys = np.repeat(np.array(list(mapping), dtype=object), [a.size for a in arrays])
        items = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        return cls(keys, items, n_items, empty_keys=mapping)

    @classmethod
    def from_item_attributes(cls, items: pd.DataFrame) -> ItemIndex:
        """From a catalog with columns idx and attributes (list of str)."""
        pairs = items[["idx", "attributes"]].explode("attributes").dropna(subset=["attributes"])
        return cls(pairs["attributes"], pairs["idx"].to_numpy(), len(items))

    def __contains__(self, key: str) -> bool:
        return normalize_key(key) in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def keys(self) -> list[str]:
        """The normalised keys, sorted."""
        return list(self._rows)

    def items_for(self, key: str) -> np.ndarray:
        """Sorted item indices carrying ``key`` (read-only); KeyError if the key is unknown."""
        row = self._rows[normalize_key(key)]
        view = self._items[self._offsets[row]:self._offsets[row + 1]]
        view.flags.writeable = False
        return view

    def size(self, key: str) -> int:
        row = self._rows[normalize_key(key)]
        return int(self._offsets[row + 1] - self._offsets[row])

    def intersection(self, keys: Iterable[str]) -> np.ndarray:
        """Sorted items carrying every key (eq. 3 of the paper); all items when ``keys`` is empty.

        Starts from the smallest set and filters it by each larger one with a
        lookup table, so the cost is linear in the sizes involved.
        """
        sets = sorted((self.items_for(key) for key in keys), key=len)
        if not sets:
            return np.arange(1, self.n_items + 1, dtype=np.int32)
        result = sets[0]
        for other in sets[1:]:
            if not result.size:
                break
            result = result[np.isin(result, other, assume_unique=True, kind="table")]
        return result

    def union(self, keys: Iterable[str]) -> np.ndarray:
        """Sorted items carrying at least one key."""
        sets = [self.items_for(key) for key in keys]
        return np.unique(np.concatenate(sets)) if sets else np.zeros(0, dtype=np.int32)
