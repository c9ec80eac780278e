"""Shared fixtures: official-format sample files and the bundle in ../shared/data."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def gzipped_copy(name: str, dest: Path) -> Path:
    """Copy fixture folder ``name`` to ``dest``, gzipping each .json file to .json.gz as the official files are."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in (FIXTURES / name).iterdir():
        if source.suffix == ".json":
            with gzip.open(dest / f"{source.name}.gz", "wb") as out:
                out.write(source.read_bytes())
        else:
            shutil.copy(source, dest / source.name)
    return dest


@pytest.fixture
def steam_official(tmp_path) -> Path:
    return gzipped_copy("steam-official", tmp_path / "steam")


@pytest.fixture
def beauty_official(tmp_path) -> Path:
    return gzipped_copy("beauty-official", tmp_path / "beauty")


@pytest.fixture
def ml1m_dir() -> Path:
    return FIXTURES / "ml-1m"


def shared(name: str) -> Path:
    """A folder of ../shared/data, or a clean skip when this checkout has none."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"
