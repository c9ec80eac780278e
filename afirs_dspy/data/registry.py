"""The datasets the project can load, their file formats, and where their files are looked for."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from afirs_dspy.data.errors import DataError
from afirs_dspy.data.sources import beauty, movielens, steam
from afirs_dspy.data.tables import RawDataset

DATA_ENV = "AFIRS_DATA_DIR"


@dataclass(frozen=True)
class SourceFormat:
    """One file layout a dataset can come in: the files it needs and the reader for them."""

    name: str
    files: tuple[str, ...]
    read: Callable[[Path], RawDataset]

    def matches(self, folder: Path) -> bool:
        return all((folder / name).is_file() for name in self.files)


@dataclass(frozen=True)
class DatasetSource:
    """A loadable dataset: its formats, a bundled copy and a download route where there are ones."""

    name: str
    description: str
    domain: str  # what the items are, as the prompts say it
    formats: tuple[SourceFormat, ...]
    bundled: Path | None = None
    download: Callable[[Path], None] | None = None

    def expected(self) -> str:
        return " or ".join(f"{' + '.join(f.files)} ({f.name})" for f in self.formats)


DATASETS: dict[str, DatasetSource] = {
    source.name: source
    for source in (
        DatasetSource(
            "ml-latest-small",
            "MovieLens latest-small, bundled with the package (the default)",
            "movies",
            (SourceFormat("MovieLens CSV", ("ratings.csv", "movies.csv", "tags.csv"), movielens.read_latest_small),),
            bundled=movielens.BUNDLED_LATEST_SMALL,
        ),
        DatasetSource(
            "ml-1m",
            "MovieLens 1M, official ratings.dat/movies.dat (downloaded when online)",
            "movies",
            (SourceFormat("MovieLens .dat", movielens.ML1M_FILES, movielens.read_ml1m),),
            download=movielens.download_ml1m,
        ),
        DatasetSource(
            "steam",
            "Steam: McAuley's review + game files, or the LLaRA-window subset",
            "video games",
            (
                SourceFormat("official McAuley files", steam.OFFICIAL_FILES, steam.read_official),
                SourceFormat("LLaRA-window subset", steam.SUBSET_FILES, steam.read_subset),
            ),
        ),
        DatasetSource(
            "beauty",
            "Amazon Beauty 2014: official 5-core reviews + metadata, or the S3Rec/IDGenRec subset",
            "beauty products",
            (
                SourceFormat("official Amazon 2014 files", beauty.OFFICIAL_FILES, beauty.read_official),
                SourceFormat("S3Rec/IDGenRec subset", beauty.SUBSET_FILES, beauty.read_subset),
            ),
        ),
    )
}


def get_source(name: str) -> DatasetSource:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def search_dirs(name: str) -> list[Path]:
    """Where a dataset's files are looked for when no --raw-dir is given, in order."""
    roots = [Path(os.environ[DATA_ENV])] if os.environ.get(DATA_ENV) else []
    roots += [Path("data"), Path("..") / "shared" / "data"]
    return [root / name for root in roots]


def _match(source: DatasetSource, folder: Path) -> SourceFormat | None:
    return next((fmt for fmt in source.formats if fmt.matches(folder)), None)


def locate(name: str, raw_dir: Path | None, download_dir: Path) -> tuple[DatasetSource, SourceFormat, Path]:
    """Find the folder holding a dataset's files and which format they are in.

    Order: ``raw_dir`` when given; the bundled copy; $AFIRS_DATA_DIR/<name>, ./data/<name>,
    ../shared/data/<name>; an earlier download in ``download_dir``; a fresh download.
    """
    source = get_source(name)
    if raw_dir is not None:
        fmt = _match(source, raw_dir)
        if fmt is None:
            raise DataError(f"{raw_dir}: no {name} files found; expected {source.expected()}")
        return source, fmt, raw_dir
    candidates = ([source.bundled] if source.bundled else []) + search_dirs(name)
    if source.download:
        candidates.append(download_dir)
    for folder in candidates:
        fmt = _match(source, folder)
        if fmt is not None:
            return source, fmt, folder
    searched = ", ".join(str(c) for c in candidates)
    if source.download is None:
        raise DataError(f"{name}: expected {source.expected()} in --raw-dir DIR or one of {searched}")
    try:
        source.download(download_dir)
    except DataError as exc:
        raise DataError(f"{name}: no {source.expected()} in {searched}, and {exc}") from None
    return source, source.formats[0], download_dir
