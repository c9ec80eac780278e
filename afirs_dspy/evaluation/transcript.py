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
from afirs_dspy.utils.jsonl_file import append_line

TRANSCRIPT = "transcript.jsonl"


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
