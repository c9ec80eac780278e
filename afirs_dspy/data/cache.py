"""The prepared-dataset cache: Arrow tables (via ``datasets``) keyed by source files and config."""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import datasets
import pandas as pd

from afirs_dspy.data.preprocess import PreprocessConfig
from afirs_dspy.data.fingerprint import data_key
from afirs_dspy.data.registry import SourceFormat
from afirs_dspy.data.tables import PREPARED_TABLES, PreparedDataset

# Bump when preprocessing changes what it produces, so old cache entries are not reused.
PREPROCESS_VERSION = 3  # 3: attributes spelled alike up to case merged
LIST_COLUMNS = ("attributes", "sequence", "history")


def cache_key(name: str, fmt: SourceFormat, folder: Path, config: PreprocessConfig) -> str:
    """A digest of the dataset, its files (name, size, mtime), the config and the code version."""
    files = [
        [f, (folder / f).stat().st_size, (folder / f).stat().st_mtime_ns] for f in sorted(fmt.files)
    ]
    payload = {"name": name, "format": fmt.name, "files": files, "config": asdict(config), "version": PREPROCESS_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def entry_path(root: Path, name: str, key: str) -> Path:
    return root / "datasets" / f"{name}-{key[:16]}"


def save(path: Path, dataset: PreparedDataset) -> None:
    """Write into a temporary folder beside ``path`` and rename it, so no half-written entry is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # a bar per table is noise for files this small
    try:
        tables = {name: datasets.Dataset.from_pandas(getattr(dataset, name), preserve_index=False)
                  for name in PREPARED_TABLES}
        datasets.DatasetDict(tables).save_to_disk(str(staging))
        (staging / "report.json").write_text(json.dumps(dataset.report, indent=1))
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if bars_were_on:
            datasets.utils.enable_progress_bars()


def _frame(table: datasets.Dataset) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in LIST_COLUMNS:
        if column in frame:
            frame[column] = [list(value) for value in frame[column]]
    return frame


def load(path: Path) -> PreparedDataset | None:
    """The cached dataset at ``path``, or None when there is no complete entry."""
    report_file = path / "report.json"
    if not report_file.is_file():
        return None
    report = json.loads(report_file.read_text())
    tables = datasets.load_from_disk(str(path))
    frames = {name: _frame(tables[name]) for name in PREPARED_TABLES}
    dataset = PreparedDataset(name=report["dataset"], report=report, **frames)
    if "data_key" not in report:  # entries cached before data keys existed; hashed only for them
        report["data_key"] = data_key(dataset)
    return dataset
