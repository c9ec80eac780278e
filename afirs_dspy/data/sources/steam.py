"""Steam: McAuley's official review + game files, and the bundled LLaRA-window subset."""
from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

import pandas as pd

from afirs_dspy.data.errors import DataError
from afirs_dspy.data.lines import json_object, parse_records, python_dict, require
from afirs_dspy.data.sources.common import catalog_frame, clean_attributes, describe, interactions_frame, listed
from afirs_dspy.data.tables import RawDataset

OFFICIAL_FILES = ("steam_reviews.json.gz", "steam_games.json.gz")
SUBSET_FILES = ("sequences.jsonl", "items.jsonl")
SPLITS = ("train", "valid", "test")
ATTRIBUTE_NOTE = "attributes: Steam tags, genres and specs"


def game_row(game: dict, item: str) -> dict:
    """A catalog row from one Steam game record (official metadata or the subset's items.jsonl)."""
    return {
        "item": item,
        "title": game.get("app_name") or game.get("title") or "",
        "description": describe(
            {
                "developer": game.get("developer"),
                "publisher": game.get("publisher"),
                "released": game.get("release_date"),
                "price": game.get("price"),
            }
        ),
        "attributes": clean_attributes(
            listed(game.get("tags")) + listed(game.get("genres")) + listed(game.get("specs"))
        ),
    }


@lru_cache(maxsize=None)
def _day_seconds(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc).timestamp())


def read_official(folder: Path) -> RawDataset:
    """steam_reviews.json.gz (one Python dict per review) + steam_games.json.gz (one per game)."""
    reviews = folder / "steam_reviews.json.gz"
    users, items, stamps = [], [], []
    for line, review in parse_records(reviews, python_dict, "a Python dict literal (a Steam review)"):
        require(review, ("username", "product_id", "date"), reviews, line)
        try:
            stamps.append(_day_seconds(str(review["date"])))
        except ValueError:
            raise DataError(f"{reviews}:{line}: date should be YYYY-MM-DD, got {review['date']!r}") from None
        users.append(review["username"])
        items.append(review["product_id"])

    games = folder / "steam_games.json.gz"
    rows, without_id = [], 0
    for _, game in parse_records(games, python_dict, "a Python dict literal (a Steam game)"):
        if game.get("id") in (None, ""):
            without_id += 1
            continue
        rows.append(game_row(game, str(game["id"])))
    return RawDataset(
        catalog=catalog_frame(rows),
        interactions=interactions_frame(users, items, stamps),
        has_ratings=False,
        has_timestamps=True,
        notes=[
            ATTRIBUTE_NOTE,
            "users are review usernames; time is the review date (day resolution, ties keep file order)",
            f"{without_id} game line(s) without an id skipped",
        ],
    )


def read_subset(folder: Path) -> RawDataset:
    """The pre-split LLaRA windows (sequences.jsonl) with their item table (items.jsonl)."""
    items_file = folder / "items.jsonl"
    rows = []
    for line, record in parse_records(items_file, json_object, "a JSON object (a Steam item)"):
        require(record, ("item_id",), items_file, line)
        rows.append(game_row(record, str(record["item_id"])))

    sequences = folder / "sequences.jsonl"
    windows = []
    for line, record in parse_records(sequences, json_object, "a JSON object (split, history, target)"):
        require(record, ("split", "target"), sequences, line)
        if record["split"] not in SPLITS or not isinstance(record.get("history"), list):
            raise DataError(f"{sequences}:{line}: expected split in {SPLITS} and a history list")
        windows.append(
            {"split": record["split"], "history": [str(i) for i in record["history"]], "target": str(record["target"])}
        )
    return RawDataset(
        catalog=catalog_frame(rows),
        windows=pd.DataFrame(windows, columns=["split", "history", "target"]),
        notes=[
            ATTRIBUTE_NOTE,
            "pre-split LLaRA windows (at most 10 previous items, no user ids, no timestamps, no ratings): "
            "each window is one session; rating and k-core filters do not apply",
        ],
    )
