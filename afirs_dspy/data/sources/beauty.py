"""Amazon Beauty: the official 2014 review + metadata files, and the bundled S3Rec/IDGenRec subset."""
from __future__ import annotations

from pathlib import Path

from afirs_dspy.data.lines import json_object, numbered_lines, parse_records, python_dict, require, to_number
from afirs_dspy.data.sources.common import catalog_frame, clean_attributes, interactions_frame, listed
from afirs_dspy.data.tables import RawDataset

OFFICIAL_FILES = ("reviews_Beauty_5.json.gz", "meta_Beauty.json.gz")
SUBSET_FILES = ("sequences.txt", "items.jsonl")


def _attributes(meta: dict) -> list[str]:
    """Brand plus every category level below the top one, as S3Rec builds Beauty's attributes."""
    paths = listed(meta.get("categories"))
    if paths and not any(isinstance(path, (list, tuple)) for path in paths):
        paths = [paths]  # one path given flat, not as a list of paths
    categories = [name for path in paths for name in listed(path)[1:]]
    return clean_attributes(([meta["brand"]] if meta.get("brand") else []) + categories)


def read_official(folder: Path) -> RawDataset:
    """reviews_Beauty_5.json.gz (JSON lines) + meta_Beauty.json.gz (Python dict literals)."""
    reviews = folder / "reviews_Beauty_5.json.gz"
    users, items, stamps, ratings = [], [], [], []
    for line, review in parse_records(reviews, json_object, "a JSON object (an Amazon review)"):
        require(review, ("reviewerID", "asin", "overall", "unixReviewTime"), reviews, line)
        users.append(review["reviewerID"])
        items.append(review["asin"])
        ratings.append(to_number(str(review["overall"]), reviews, line, "overall"))
        stamps.append(to_number(str(review["unixReviewTime"]), reviews, line, "unixReviewTime", int))

    meta_file = folder / "meta_Beauty.json.gz"
    rows = []
    for line, meta in parse_records(meta_file, python_dict, "a Python dict literal (Amazon metadata)"):
        require(meta, ("asin",), meta_file, line)
        rows.append(
            {
                "item": meta["asin"],
                "title": meta.get("title") or "",
                "description": meta.get("description") or "",
                "attributes": _attributes(meta),
            }
        )
    return RawDataset(
        catalog=catalog_frame(rows),
        interactions=interactions_frame(users, items, stamps, ratings),
        has_ratings=True,
        has_timestamps=True,
        notes=["attributes: brand plus category levels below 'Beauty' (as S3Rec)"],
    )


def read_subset(folder: Path) -> RawDataset:
    """sequences.txt (reviewer id then ASINs, oldest first) + items.jsonl (textual ids, attributes)."""
    users, items, order = [], [], []
    for _, line in numbered_lines(folder / "sequences.txt"):
        user, *asins = line.split()
        users.extend([user] * len(asins))
        items.extend(asins)
        order.extend(range(len(asins)))

    items_file = folder / "items.jsonl"
    rows = []
    for line, record in parse_records(items_file, json_object, "a JSON object (item_id, title_words, attributes)"):
        require(record, ("item_id",), items_file, line)
        rows.append(
            {
                "item": record["item_id"],
                "title": record.get("title_words") or "",
                "description": "",
                "attributes": clean_attributes(listed(record.get("attributes"))),
            }
        )
    return RawDataset(
        catalog=catalog_frame(rows),
        interactions=interactions_frame(users, items, order),
        has_ratings=False,
        has_timestamps=False,
        notes=[
            "attributes: brand plus categories (S3Rec/P5), HTML entities unescaped",
            "titles are IDGenRec textual ids generated from the item text, not real product names",
            "order only (the review order in sequences.txt): the timestamp column is the position",
        ],
    )
