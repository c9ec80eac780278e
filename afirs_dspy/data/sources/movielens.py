"""MovieLens: the bundled latest-small CSVs and the official ML-1M ``::`` files."""
from __future__ import annotations

import io
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from afirs_dspy.data.errors import DataError
from afirs_dspy.data.lines import csv_rows, parse_records, separated_fields, to_number
from afirs_dspy.data.sources.common import catalog_frame, clean_attributes, interactions_frame, user_attributes_frame
from afirs_dspy.data.tables import RawDataset

BUNDLED_LATEST_SMALL = Path(__file__).resolve().parent.parent / "bundled" / "ml-latest-small"
ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ML1M_FILES = ("ratings.dat", "movies.dat")
NO_GENRE = "(no genres listed)"


def _genres(field: str) -> list[str]:
    return [g for g in field.split("|") if g and g != NO_GENRE]


def read_latest_small(folder: Path) -> RawDataset:
    """ratings.csv + movies.csv + tags.csv; attributes are the genres plus the user tags."""
    ratings = folder / "ratings.csv"
    users, items, stamps, values = [], [], [], []
    for line, row in csv_rows(ratings, ["userId", "movieId", "rating", "timestamp"]):
        users.append(row["userId"])
        items.append(row["movieId"])
        values.append(to_number(row["rating"], ratings, line, "rating"))
        stamps.append(to_number(row["timestamp"], ratings, line, "timestamp", int))

    tags = [
        (row["userId"], row["movieId"], row["tag"].lower())
        for _, row in csv_rows(folder / "tags.csv", ["userId", "movieId", "tag"])
    ]

    rows = [
        {
            "item": row["movieId"],
            "title": row["title"],
            "description": "",
            "attributes": clean_attributes(_genres(row["genres"])),
        }
        for _, row in csv_rows(folder / "movies.csv", ["movieId", "title", "genres"])
    ]
    return RawDataset(
        catalog=catalog_frame(rows),
        interactions=interactions_frame(users, items, stamps, values),
        user_attributes=user_attributes_frame(tags),
        has_ratings=True,
        has_timestamps=True,
        notes=["attributes: MovieLens genres plus user tags from tags.csv (lower-cased)"],
    )


def read_ml1m(folder: Path) -> RawDataset:
    """The official ML-1M ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat (latin-1)."""
    ratings = folder / "ratings.dat"
    users, items, stamps, values = [], [], [], []
    for line, (user, item, rating, stamp) in parse_records(
        ratings, separated_fields("::", 4), "UserID::MovieID::Rating::Timestamp", encoding="latin-1"
    ):
        users.append(user)
        items.append(item)
        values.append(to_number(rating, ratings, line, "Rating"))
        stamps.append(to_number(stamp, ratings, line, "Timestamp", int))
    rows = [
        {"item": item, "title": title, "description": "", "attributes": clean_attributes(_genres(genres))}
        for _, (item, title, genres) in parse_records(
            folder / "movies.dat", separated_fields("::", 3), "MovieID::Title::Genres", encoding="latin-1"
        )
    ]
    return RawDataset(
        catalog=catalog_frame(rows),
        interactions=interactions_frame(users, items, stamps, values),
        has_ratings=True,
        has_timestamps=True,
        notes=["attributes: the 18 ML-1M genres (ML-1M has no tags)"],
    )


def download_ml1m(dest: Path, url: str = ML1M_URL, timeout: float = 60.0) -> None:
    """Fetch the official ML-1M zip and unpack its .dat files into ``dest`` (atomically)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"could not download ML-1M from {url} ({exc}); download ml-1m.zip yourself, unzip it "
            f"and pass --raw-dir DIR holding {' and '.join(ML1M_FILES)}"
        ) from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile:
        raise DataError(f"{url}: not a zip archive") from None
    members = {Path(name).name: name for name in archive.namelist()}
    missing = [f for f in ML1M_FILES if f not in members]
    if missing:
        raise DataError(f"{url}: the archive lacks {', '.join(missing)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ml-1m-", dir=dest.parent))
    try:
        for name, member in members.items():
            if name.endswith(".dat") or name == "README":
                (staging / name).write_bytes(archive.read(member))
        staging.replace(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
