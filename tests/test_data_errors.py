"""Bad input: one-line errors naming the file (and line), non-zero exits, nothing half-written."""
from __future__ import annotations

import gzip
import shutil

import pytest
from click.testing import CliRunner

from afirs_dspy.cli import main
from afirs_dspy.data import DataError, load_dataset
from afirs_dspy.data import cache as data_cache

from conftest import FIXTURES


def test_missing_files_name_what_is_expected(tmp_path):
    with pytest.raises(DataError, match=r"no steam files found; expected steam_reviews.json.gz \+ steam_games.json.gz"):
        load_dataset("steam", raw_dir=tmp_path, cache_dir=tmp_path / "c")


def test_truncated_gzip_names_the_file(steam_official, tmp_path):
    reviews = steam_official / "steam_reviews.json.gz"
    reviews.write_bytes(reviews.read_bytes()[:-20])
    with pytest.raises(DataError, match=r"steam_reviews.json.gz: truncated or corrupt gzip"):
        load_dataset("steam", raw_dir=steam_official, cache_dir=tmp_path / "c")


def test_malformed_python_literal_names_file_and_line(steam_official, tmp_path):
    games = steam_official / "steam_games.json.gz"
    lines = gzip.decompress(games.read_bytes()).decode().splitlines()
    lines[2] = "{u'id': u'70', u'app_name': __import__('os').system('echo pwned')}"
    games.write_bytes(gzip.compress("\n".join(lines).encode()))
    with pytest.raises(DataError, match=r"steam_games.json.gz:3: malformed line, expected a Python dict literal"):
        load_dataset("steam", raw_dir=steam_official, cache_dir=tmp_path / "c")


def test_malformed_dat_line_and_non_numeric_rating(ml1m_dir, tmp_path):
    folder = tmp_path / "ml-1m"
    shutil.copytree(ml1m_dir, folder)
    ratings = folder / "ratings.dat"
    ratings.write_text(ratings.read_text() + "4::661\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"ratings.dat:13: malformed line, expected UserID::MovieID::Rating::Timestamp"):
        load_dataset("ml-1m", raw_dir=folder, cache_dir=tmp_path / "c")
    ratings.write_text((FIXTURES / "ml-1m" / "ratings.dat").read_text() + "4::661::five::978300760\n", encoding="latin-1")
    with pytest.raises(DataError, match=r"ratings.dat:13: column Rating should be a number, got 'five'"):
        load_dataset("ml-1m", raw_dir=folder, cache_dir=tmp_path / "c")


def test_csv_missing_column_names_the_header(tmp_path):
    folder = tmp_path / "small"
    shutil.copytree(FIXTURES.parent.parent / "afirs_dspy" / "data" / "bundled" / "ml-latest-small", folder)
    (folder / "ratings.csv").write_text("userId,movieId,score,timestamp\n1,1,4.0,964982703\n")
    with pytest.raises(DataError, match=r"ratings.csv:1: header lacks column\(s\) rating"):
        load_dataset("ml-latest-small", raw_dir=folder, cache_dir=tmp_path / "c")


def test_unknown_dataset_name():
    with pytest.raises(DataError, match="unknown dataset 'netflix'; known: ml-latest-small, ml-1m, steam, beauty"):
        load_dataset("netflix")


def test_ml1m_download_from_a_url_and_its_failure(ml1m_dir, tmp_path):
    from afirs_dspy.data.sources.movielens import download_ml1m

    archive = shutil.make_archive(str(tmp_path / "ml-1m"), "zip", root_dir=ml1m_dir.parent, base_dir="ml-1m")
    dest = tmp_path / "raw" / "ml-1m"
    download_ml1m(dest, url=f"file://{archive}")
    assert sorted(p.name for p in dest.iterdir()) == ["movies.dat", "ratings.dat"]
    with pytest.raises(DataError, match="could not download ML-1M .* pass --raw-dir DIR holding ratings.dat and movies.dat"):
        download_ml1m(tmp_path / "other", url=f"file://{tmp_path}/missing.zip")
    assert not (tmp_path / "other").exists()


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    result = CliRunner().invoke(main, ["data", "prepare", "--dataset", "beauty", "--raw-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path}: no beauty files found; expected reviews_Beauty_5.json.gz + meta_Beauty.json.gz "
        "(official Amazon 2014 files) or sequences.txt + items.jsonl (S3Rec/IDGenRec subset)"
    ]
    assert "Traceback" not in result.output
    empty = CliRunner().invoke(main, ["data", "prepare", "--raw-dir", str(FIXTURES / "ml-1m"), "--dataset", "ml-1m",
                                      "--cache-dir", str(tmp_path / "c")])
    assert empty.exit_code == 1 and "no interactions left after preprocessing" in empty.output


def test_a_failed_save_leaves_no_cache_entry(tmp_path, monkeypatch):
    def broken_save(self, path):
        (tmp_path / "c" / "datasets").mkdir(parents=True, exist_ok=True)
        raise OSError("disk full")

    monkeypatch.setattr(data_cache.datasets.DatasetDict, "save_to_disk", broken_save)
    with pytest.raises(DataError, match="cannot write the prepared-data cache .*disk full"):
        load_dataset(cache_dir=tmp_path / "c")
    assert list((tmp_path / "c" / "datasets").iterdir()) == []
