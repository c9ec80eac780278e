"""The source readers on hand-written files in the official formats and on the real bundle."""
from __future__ import annotations

import gzip
import io
import math

from tqdm.auto import tqdm

import afirs_dspy.data.lines as lines
from afirs_dspy.data import PreprocessConfig, load_dataset
from afirs_dspy.data.sources import beauty, movielens, steam

from conftest import shared


def test_ml1m_reader_parses_double_colon_latin1(ml1m_dir):
    raw = movielens.read_ml1m(ml1m_dir)
    assert len(raw.interactions) == 12
    first = raw.interactions.iloc[0]
    assert tuple(first[["user", "item", "rating", "timestamp"]]) == ("1", "1193", 5.0, 978300760)
    titles = dict(zip(raw.catalog["item"], raw.catalog.title))
    assert titles["3408"] == "Misérables, Les (1995)"
    attributes = dict(zip(raw.catalog["item"], raw.catalog.attributes))
    assert attributes["661"] == ["Animation", "Children's", "Musical"]


def test_ml1m_prepared_leave_one_out_with_ties_in_file_order(ml1m_dir, cache):
    data = load_dataset("ml-1m", raw_dir=ml1m_dir, cache_dir=cache, config=PreprocessConfig(core=2))
    index = dict(zip(data.items.item_id, data.items.idx))
    by_user = data.test.set_index("user")
    # User 3: 914 (t=...6000), 1193 (7000), then 661 and 3408 share t=7001: file order keeps 661 first.
    assert by_user.loc["3", "target"] == index["3408"]
    assert by_user.loc["3", "history"] == [index["914"], index["1193"], index["661"]]
    # User 2 rated 914 with 2 stars: dropped by the rating filter.
    assert index["914"] not in by_user.loc["2", "history"] + [by_user.loc["2", "target"]]
    assert data.report["stages"][1]["stage"] == "rating >= 3"


def test_steam_official_reader_uses_literal_eval_and_joins_games(steam_official):
    raw = steam.read_official(steam_official)
    assert len(raw.interactions) == 12
    assert raw.interactions.iloc[0].user == "Chaos Syren"
    assert math.isnan(raw.interactions.iloc[0].rating)
    games = raw.catalog.set_index("item")
    assert len(games) == 5  # the line without an id is skipped
    assert games.loc["35140", "title"] == "Batman: Arkham Asylum Game of the Year Edition"
    assert games.loc["70", "attributes"] == ["FPS", "Classic", "Action", "Sci-fi", "Single-player", "Multi-player"]
    assert "developer: Valve" in games.loc["70", "description"]
    assert any("without an id" in note for note in raw.notes)


def test_steam_official_prepared_drops_unknown_games_and_skips_rating_filter(steam_official, cache):
    data = load_dataset("steam", raw_dir=steam_official, cache_dir=cache, config=PreprocessConfig(core=2))
    assert "999999" not in set(data.items.item_id)
    assert any("rating filter is skipped" in note for note in data.report["notes"])
    assert data.report["format"] == "official McAuley files"


def test_beauty_official_reader_builds_s3rec_attributes(beauty_official):
    raw = beauty.read_official(beauty_official)
    assert len(raw.interactions) == 12
    meta = raw.catalog.set_index("item")
    assert meta.loc["B0020YLEYK", "attributes"] == [
        "Skin79", "Skin Care", "Face", "Creams & Moisturizers", "Makeup", "BB & CC Creams"
    ]
    assert meta.loc["B002WLWX82", "attributes"][0] == "Dr. Scholl's"
    assert meta.loc["7806397051", "description"] == "Professional 15 colour concealer palette."
    assert meta.loc["B00000XYZ1", "attributes"] == []


def test_beauty_official_prepared_keeps_first_repeat_and_filters_low_ratings(beauty_official, cache):
    data = load_dataset("beauty", raw_dir=beauty_official, cache_dir=cache, config=PreprocessConfig(core=2))
    stages = [s["stage"] for s in data.report["stages"]]
    assert stages[:3] == ["raw", "rating >= 3", "first interaction per user and item"]
    # Andrea: 1-star review dropped, the rest in time order.
    index = dict(zip(data.items.item_id, data.items.idx))
    andrea = data.test.set_index("user").loc["A1YJEY40YUW4SE"]
    assert andrea.history + [andrea.target] == [index["B004756YJA"], index["B0020YLEYK"], index["B002WLWX82"]]


def test_bundled_ml_latest_small_matches_expected_counts(cache):
    data = load_dataset(cache_dir=cache)
    assert (data.report["users"], data.n_items, data.report["interactions"]) == (603, 1862, 64760)
    assert data.items.idx.tolist() == list(range(1, 1863))
    toy_story = data.items.iloc[0]
    assert toy_story.title == "Toy Story (1995)" and "Animation" in toy_story.attributes and "pixar" in toy_story.attributes
    lengths = data.train.sequence.map(len) + 2
    assert int(lengths.sum()) == 64760
    assert all(h == s for h, s in zip(data.valid.history, data.train.sequence))
    assert all(h == v + [t] for h, v, t in zip(data.test.history, data.valid.history, data.valid.target))


def test_steam_subset_windows_map_onto_splits(cache):
    data = load_dataset("steam", raw_dir=shared("steam"), cache_dir=cache)
    assert (len(data.valid), len(data.test)) == (1194, 1194)
    assert data.report["format"] == "LLaRA-window subset"
    assert data.report["users"] is None
    # The source's empty-history test window survives with an empty history.
    assert min(data.test.history.map(len)) == 0
    # Item ids follow the file's ids: item 0 ("Ironbound") is index 1.
    assert data.items.iloc[0].title == "Ironbound"
    assert data.n_items == 3015
    # Training = the 1,000 training windows whole, then the valid/test histories without their targets.
    held_out = [h for split in (data.valid, data.test) for h in split.history if len(h) >= 2]
    assert data.train.sequence.tolist()[1000:] == held_out


def test_beauty_subset_ten_core(cache):
    data = load_dataset("beauty", raw_dir=shared("beauty"), cache_dir=cache)
    assert (data.report["users"], data.n_items, data.report["interactions"]) == (1340, 733, 28798)
    assert any("not real product names" in note for note in data.report["notes"])
    assert all(item.attributes for item in data.items.itertuples())



def test_reading_a_large_file_shows_a_bar_over_its_bytes(tmp_path, monkeypatch):
    bars = []

    def recorded_bar(**options):
        bars.append(tqdm(**{**options, "disable": False, "file": io.StringIO()}))
        return bars[-1]

    monkeypatch.setattr(lines, "_PROGRESS_BYTES", 0)
    monkeypatch.setattr(lines, "tqdm", recorded_bar)
    path = tmp_path / "big.json.gz"
    with gzip.open(path, "wt") as out:
        out.write("".join(f'{{"n": {i}}}\n' for i in range(30_000)))
    assert sum(1 for _ in lines.numbered_lines(path)) == 30_000
    assert bars[0].unit == "B" and bars[0].total == path.stat().st_size == bars[0].n  # an estimate all along
