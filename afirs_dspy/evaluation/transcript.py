"""The JSONL transcript: one finished session per line, appended (and flushed to disk) the moment it ends.

A run killed mid-write leaves at most one truncated last line; reading skips it (that session is run
again on resume) and the next append starts on a fresh line.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from afirs_dspy.evaluation.records import SessionRecord

TRANSCRIPT = "transcript.jsonl"


def append_line(path: Path, data: dict) -> None:
    """Append ``data`` as one JSON line and flush it to disk, starting a fresh line after a truncated one."""
    line = json.dumps(data, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        # A lone surrogate (a remote LM's JSON may hold one) cannot be UTF-8: written as the JSON
        # escape it stands for (it only occurs inside JSON strings), it reads back unchanged.
        handle.write(line.encode("utf-8", "backslashreplace"))
        handle.flush()
        os.fsync(handle.fileno())


def read_lines(path: Path) -> list[dict]:
    """Every line of a file ``append_line`` wrote that parses as JSON (a truncated last one does not)."""
    if not path.is_file():
        return []
    parsed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    return parsed


class Transcript:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.skipped_lines = 0

    def append(self, record: SessionRecord) -> None:
        with self._lock:
            append_line(self.path, record.to_dict())

    def read(self) -> list[SessionRecord]:
        """Every complete record in file order; unreadable lines are counted in ``skipped_lines``."""
        self.skipped_lines = 0
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                records.append(SessionRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError, KeyError):
                self.skipped_lines += 1
        return records

    def latest(self) -> dict[tuple[str, str], SessionRecord]:
        """The last record of each (method, user): a session retried after an error replaces its error."""
        return {record.key: record for record in self.read()}
