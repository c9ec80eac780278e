"""Small builders shared by the source readers."""
from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import pandas as pd

from afirs_dspy.data.tables import CATALOG_COLUMNS, INTERACTION_COLUMNS, USER_ATTRIBUTE_COLUMNS


def clean_attributes(values: Iterable[str]) -> list[str]:
    """Unescape HTML entities, strip, drop blanks and case-insensitive repeats (first spelling wins)."""
    seen: set[str] = set()
    cleaned = []
    for value in values:
        text = html.unescape(str(value)).strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            cleaned.append(text)
    return cleaned


def describe(fields: dict[str, object]) -> str:
    """A one-line description from the known fields, e.g. 'developer: X; price: 4.99'."""
    return "; ".join(f"{key}: {value}" for key, value in fields.items() if value not in (None, "", []))


def catalog_frame(rows: list[dict]) -> pd.DataFrame:
    """The catalog table; the first row wins for a repeated item id."""
    frame = pd.DataFrame(rows, columns=CATALOG_COLUMNS)
    frame["item"] = frame["item"].astype(str)
    return frame.drop_duplicates("item", keep="first").reset_index(drop=True)


def interactions_frame(users, items, timestamps, ratings=None) -> pd.DataFrame:
    """The interactions table in file order; ratings are NaN where the source has none."""
    frame = pd.DataFrame(
        {
            "user": pd.Series(users, dtype=str),
            "item": pd.Series(items, dtype=str),
            "timestamp": np.asarray(timestamps, dtype=np.int64),
            "rating": np.asarray(ratings if ratings is not None else np.full(len(users), np.nan), dtype=float),
        }
    )
    return frame[INTERACTION_COLUMNS]


def user_attributes_frame(rows: Iterable[tuple[str, str, str]]) -> pd.DataFrame:
    """(user, item, attribute) rows, in file order, as strings."""
    return pd.DataFrame(list(rows), columns=USER_ATTRIBUTE_COLUMNS, dtype=str)
