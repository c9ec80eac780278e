"""The prepared-data cache: reused, keyed by config and files, rebuilt on --force."""
from __future__ import annotations

import os
import shutil

import pytest

from afirs_dspy.data import PreprocessConfig, load_dataset
from afirs_dspy.data import registry


def test_second_load_reads_the_cache_not_the_files(ml1m_dir, cache, monkeypatch):
    config = PreprocessConfig(core=2)
    first = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=config)

    def fail(_):
        raise AssertionError("source read again")

    fmt = registry.DATASETS["ml-1m"].formats[0]
    monkeypatch.setitem(
        registry.DATASETS, "ml-1m", registry.DatasetSource("ml-1m", "x", "movies", (registry.SourceFormat(fmt.name, fmt.files, fail),))
    )
    second = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=config)
    assert second.report == first.report
    assert second.test.history.tolist() == first.test.history.tolist()
    assert second.items.attributes.tolist() == first.items.attributes.tolist()
    with pytest.raises(AssertionError, match="source read again"):
        load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=config, force=True)


def test_key_depends_on_config(ml1m_dir, cache):
    a = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=PreprocessConfig(core=2))
    b = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=PreprocessConfig(core=1))
    assert a.report["cache_key"] != b.report["cache_key"]
    assert len(list((cache / "datasets").iterdir())) == 2


def test_copied_files_keep_the_data_key(ml1m_dir, cache, tmp_path):
    """A copy of the same files (new mtimes) is a new cache entry but the same data, so artifacts stay valid."""
    original = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=PreprocessConfig(core=2))
    copy = tmp_path / "copy"
    shutil.copytree(ml1m_dir, copy)
    for path in copy.iterdir():
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    copied = load_dataset("ml-1m", raw_dir=copy, cache_dir=cache, config=PreprocessConfig(core=2))
    assert copied.report["cache_key"] != original.report["cache_key"]
    assert copied.data_key == original.data_key and len(copied.data_key) == 64
    all_ratings = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=PreprocessConfig(core=2, min_rating=0))
    assert len(all_ratings.items) != len(original.items) or all_ratings.train.sequence.tolist() != original.train.sequence.tolist()
    assert all_ratings.data_key != original.data_key
