"""Reading record files line by line, with errors that name the file and line."""
from __future__ import annotations

import ast
import csv
import gzip
import json
import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, TypeVar

from tqdm.auto import tqdm

from afirs_dspy.data.errors import DataError

T = TypeVar("T")

# Files larger than this get a progress bar while they are read.
_PROGRESS_BYTES = 50_000_000
_LINES_PER_UPDATE = 10_000


@contextmanager
def open_text(path: Path, encoding: str = "utf-8") -> Iterator[TextIO]:
    """Open a plain or gzipped text file, turning I/O problems into DataError."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, newline="") as handle:
            yield handle
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not {encoding} text ({exc.reason} at byte {exc.start})") from None


def numbered_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield (line number, stripped line) for each non-blank line."""
    size = path.stat().st_size if path.is_file() else 0
    with open_text(path, encoding) as handle, tqdm(
        total=size, desc=f"reading {path.name}", unit="B", unit_scale=True,
        disable=None if size > _PROGRESS_BYTES else True,
    ) as bar:
        # The bar follows the bytes read from the file itself (compressed ones for .gz), so it has an estimate.
        raw = getattr(handle.buffer, "fileobj", handle.buffer)
        for number, line in enumerate(handle, start=1):
            if number % _LINES_PER_UPDATE == 0:
                bar.update(raw.tell() - bar.n)
            line = line.strip()
            if line:
                yield number, line
        bar.update(size - bar.n)


def parse_records(
    path: Path, parse: Callable[[str], T], expected: str, encoding: str = "utf-8"
) -> Iterator[tuple[int, T]]:
    """Yield (line number, parsed line); a line that fails names the file, line and the expected form."""
    for number, line in numbered_lines(path, encoding):
        try:
            record = parse(line)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise DataError(f"{path}:{number}: malformed line, expected {expected} ({type(exc).__name__})") from None
        yield number, record


def json_object(line: str) -> dict:
    """One JSON object per line."""
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def python_dict(line: str) -> dict:
    """One Python dict literal per line (McAuley's Steam and Amazon metadata); never ``eval``."""
    value = ast.literal_eval(line)
    if not isinstance(value, dict):
        raise ValueError("not a dict")
    return value


def separated_fields(separator: str, count: int) -> Callable[[str], list[str]]:
    """A parser for lines of exactly ``count`` fields split on ``separator`` (the last may contain it)."""

    def parse(line: str) -> list[str]:
        fields = line.split(separator, count - 1)
        if len(fields) != count:
            raise ValueError(f"{len(fields)} fields")
        return fields

    return parse


def csv_rows(path: Path, columns: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a CSV file with a header that must hold ``columns``."""
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        try:  # the header is read here too: a field over csv's size limit fails on it
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}:1: header lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")
            for row in reader:
                if None in row or any(row[c] is None for c in columns):
                    raise DataError(f"{path}:{reader.line_num}: malformed line, expected {len(reader.fieldnames)} fields")
                yield reader.line_num, row
        except csv.Error as exc:
            raise DataError(f"{path}:{max(reader.line_num, 1)}: malformed CSV ({exc})") from None


def to_number(value: str, path: Path, line: int, column: str, kind: type = float):
    """Convert one field, naming the file, line and column when it is not a finite number (an int:
    one that fits 64 bits, as the tables store it)."""
    try:
        number = kind(value)
    except ValueError:
        raise DataError(f"{path}:{line}: column {column} should be a number, got {value!r}") from None
    if not (math.isfinite(number) and (kind is not int or -2**63 <= number < 2**63)):
        raise DataError(f"{path}:{line}: column {column} should be a finite number"
                        f"{' within 64 bits' if kind is int else ''}, got {value[:40]!r}")
    return number


def require(record: dict, keys: tuple[str, ...], path: Path, line: int) -> None:
    """Fail with the file and line when a record lacks a required key."""
    missing = [key for key in keys if record.get(key) in (None, "")]
    if missing:
        raise DataError(f"{path}:{line}: record lacks {', '.join(missing)}")
