"""The LM steps of a tree build, kept on disk as they finish so an interrupted build resumes.

A JSON-lines file: the first line binds it to the build (data, LM, settings); each further line
is one finished step's validated answer under a key hashed from the step and its inputs. A file
bound to another build is started afresh.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from afirs_dspy.utils.jsonl_file import append_line, read_lines


def step_key(step: str, inputs: dict) -> str:
    return hashlib.sha256(json.dumps([step, inputs], sort_keys=True, default=str).encode()).hexdigest()[:24]


class StepLog:
    """Finished steps (key → JSON value); ``path=None`` keeps them in memory only."""

    def __init__(self, path: str | Path | None = None, binding: dict | None = None):
        self.path = Path(path) if path else None
        self.binding = json.loads(json.dumps(binding or {}, sort_keys=True, default=str))
        self.done: dict[str, object] = {}
        if self.path is None:
            return
        lines = read_lines(self.path)
        if lines and lines[0] == {"binding": self.binding}:
            self.done = {entry["key"]: entry["value"] for entry in lines[1:]}
        else:
            self.path.unlink(missing_ok=True)
            append_line(self.path, {"binding": self.binding})

    def __contains__(self, key: str) -> bool:
        return key in self.done

    def __getitem__(self, key: str):
        return self.done[key]

    def __setitem__(self, key: str, value) -> None:
        self.done[key] = value
        if self.path is not None:
            append_line(self.path, {"key": key, "value": value})

    def discard(self) -> None:
        """Remove the file: the build it served is saved."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
