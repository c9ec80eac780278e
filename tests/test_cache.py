"""The prepared-data cache: reused, keyed by config and files, rebuilt on --force."""
from __future__ import annotations

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
