"""Bad data files (issue 14, item 5): numbers out of range, oversized CSV fields and list fields of the
wrong type give one-line errors naming the file and line, or are read as what they mean; never a crash."""
from __future__ import annotations

import gzip
import json
import shutil

import pytest
from click.testing import CliRunner

from afirs_dspy.cli import main
from afirs_dspy.data import DataError, PreprocessConfig, load_dataset
from afirs_dspy.data.sources import beauty, movielens, steam

from conftest import FIXTURES


def ml1m_with(tmp_path, line: str):
    folder = tmp_path / "ml-1m"
    shutil.copytree(FIXTURES / "ml-1m", folder)
    ratings = folder / "ratings.dat"
    ratings.write_text(ratings.read_text(encoding="latin-1") + line + "\n", encoding="latin-1")
    return folder


@pytest.mark.parametrize("line, match", [
    ("4::661::3::1000000000000000000000000000000", r"ratings.dat:13: column Timestamp should be a finite number within 64 bits"),
    ("4::661::3::-99999999999999999999", r"ratings.dat:13: column Timestamp should be a finite number within 64 bits"),
    ("4::661::inf::978300760", r"ratings.dat:13: column Rating should be a finite number, got 'inf'"),
    ("4::661::nan::978300760", r"ratings.dat:13: column Rating should be a finite number, got 'nan'"),
])
def test_out_of_range_numbers_name_the_file_and_line(tmp_path, line, match):
    folder = ml1m_with(tmp_path, line)
    with pytest.raises(DataError, match=match):
        load_dataset("ml-1m", raw_dir=folder, cache_dir=tmp_path / "c", config=PreprocessConfig(core=2))


def test_a_csv_header_field_over_the_csv_limit_names_the_file(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp," + "x" * 200_000 + "\n1,1,4.0,964982703\n")
    with pytest.raises(DataError, match=r"ratings.csv:1: malformed CSV \(field larger than field limit"):
        movielens.read_latest_small(tmp_path)


def rewrite_gzip_lines(path, edit) -> None:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress("\n".join(edit(lines)).encode()))


def test_steam_list_fields_of_the_wrong_type_are_read_as_what_they_mean(steam_official):
    def edit(lines):
        lines[0] = lines[0].replace("u'tags': [u'Strategy', u'Action', u'Indie', u'Casual', u'Simulation']", "u'tags': 5")
        lines[0] = lines[0].replace("u'specs': [u'Single-player']", "u'specs': u'Single-player'")
        lines[0] = lines[0].replace("u'genres': [u'Action', u'Casual', u'Indie', u'Simulation', u'Strategy']",
                                    "u'genres': [7, None, [u'Nested']]")
        return lines

    rewrite_gzip_lines(steam_official / "steam_games.json.gz", edit)
    games = steam.read_official(steam_official).catalog.set_index("item")
    assert games.loc["761140", "attributes"] == ["5", "7", "['Nested']", "Single-player"]


def test_non_string_titles_are_prepared_and_cached(steam_official, tmp_path):
    rewrite_gzip_lines(steam_official / "steam_games.json.gz",
                       lambda lines: [line.replace("u'app_name': u'Half-Life'", "u'app_name': 1998") for line in lines])
    data = load_dataset("steam", raw_dir=steam_official, cache_dir=tmp_path / "c", config=PreprocessConfig(core=2))
    again = load_dataset("steam", raw_dir=steam_official, cache_dir=tmp_path / "c", config=PreprocessConfig(core=2))
    assert all(isinstance(t, str) for t in again.items.title) and list(again.items.title) == list(data.items.title)


def test_beauty_categories_and_attributes_of_the_wrong_type(beauty_official, tmp_path):
    meta = beauty_official / "meta_Beauty.json.gz"
    rewrite_gzip_lines(meta, lambda lines: [
        lines[0].replace("'categories': [['Beauty', 'Makeup', 'Face', 'Concealers & Neutralizers']]", "'categories': 5"),
        lines[1].replace("'categories': [['Beauty', 'Makeup', 'Nails', 'Nail Polish']]", "'categories': ['Beauty', 'Nails']"),
        lines[2].replace("'brand': 'Skin79'", "'brand': 79"), *lines[3:]])
    rows = beauty.read_official(beauty_official).catalog.set_index("item")
    assert rows.loc["7806397051", "attributes"] == []
    assert rows.loc["B004756YJA", "attributes"] == ["OPI", "Nails"]
    assert rows.loc["B0020YLEYK", "attributes"][0] == "79"

    subset = tmp_path / "subset"
    subset.mkdir()
    (subset / "sequences.txt").write_text("u1 a b\n")
    (subset / "items.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"item_id": "a", "title_words": 12, "attributes": 3}, {"item_id": "b", "attributes": "Skin Care"}]) + "\n")
    items = beauty.read_subset(subset).catalog.set_index("item")
    assert items.loc["a", "attributes"] == ["3"] and items.loc["a", "title"] == "12"
    assert items.loc["b", "attributes"] == ["Skin Care"]


def test_an_unwritable_cache_dir_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(DataError, match="cannot write the prepared-data cache at .* pass a writable --cache-dir"):
        load_dataset("ml-1m", raw_dir=FIXTURES / "ml-1m", cache_dir=blocker, config=PreprocessConfig(core=2))
    result = CliRunner().invoke(main, ["data", "prepare", "--dataset", "ml-1m", "--raw-dir", str(FIXTURES / "ml-1m"),
                                       "--core", "2", "--cache-dir", str(blocker / "cache")])
    # The CLI checks the folder before any work (cli/checks.py) and says what to change, in one line.
    assert result.exit_code == 1 and "Traceback" not in result.output and result.output.count("\n") == 1
    assert result.output.startswith("Error: --cache-dir") and "choose another --cache-dir" in result.output
