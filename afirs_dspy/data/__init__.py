"""Datasets: one loader interface over MovieLens, Steam and Amazon Beauty, with the paper's preprocessing."""
from __future__ import annotations

import os
from pathlib import Path

from afirs_dspy.data import cache
from afirs_dspy.data.errors import DataError
from afirs_dspy.data.fingerprint import data_key
from afirs_dspy.data.preprocess import PreprocessConfig, prepare
from afirs_dspy.data.registry import DATASETS, locate
from afirs_dspy.data.tables import PreparedDataset, RawDataset
from afirs_dspy.utils.paths import cache_dir as resolve_cache_dir

DEFAULT_DATASET = "ml-latest-small"

__all__ = ["DATASETS", "DEFAULT_DATASET", "DataError", "PreparedDataset", "PreprocessConfig", "RawDataset", "load_dataset"]


def load_dataset(
    name: str = DEFAULT_DATASET,
    raw_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    config: PreprocessConfig | None = None,
    force: bool = False,
) -> PreparedDataset:
    """Load a dataset's train/valid/test splits, preprocessing and caching them on first use.

    ``raw_dir`` points at the dataset's files (official or subset layout, detected from the
    file names); without it the bundled copy, $AFIRS_DATA_DIR/<name>, ./data/<name> and
    ../shared/data/<name> are searched (ML-1M is downloaded when none holds it).
    ``force`` rebuilds the cache entry. Raises DataError for missing or malformed data.
    """
    config = config or PreprocessConfig()
    root = resolve_cache_dir(cache_dir)
    source, fmt, folder = locate(name, Path(raw_dir) if raw_dir else None, root / "raw" / name)
    key = cache.cache_key(name, fmt, folder, config)
    path = cache.entry_path(root, name, key)
    if not force:
        cached = cache.load(path)
        if cached is not None:
            return cached
    dataset = prepare(name, fmt.read(folder), config)
    dataset.report.update({"cache_key": key, "data_key": data_key(dataset), "format": fmt.name,
                           "source_dir": str(folder.resolve())})
    try:
        cache.save(path, dataset)
    except OSError as exc:
        raise DataError(f"cannot write the prepared-data cache at {path.parent} ({exc.strerror or exc}); "
                        "pass a writable --cache-dir (or set AFIRS_CACHE_DIR)") from None
    return dataset
