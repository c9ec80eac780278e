"""The LM steps of a tree build, kept on disk as they finish so an interrupted build resumes.

A JSON-lines file: the first line binds it to the build (data, LM, settings); each further line
is one finished step's validated answer under a key hashed from the step and its inputs. A file
bound to another build is started afresh.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path


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
        lines = self.path.read_text().splitlines() if self.path.is_file() else []
        if lines and json.loads(lines[0]) == {"binding": self.binding}:
            for line in lines[1:]:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by the interrupt
                    break
                self.done[entry["key"]] = entry["value"]
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"binding": self.binding}) + "\n")

    def __contains__(self, key: str) -> bool:
        return key in self.done

    def __getitem__(self, key: str):
        return self.done[key]

    def __setitem__(self, key: str, value) -> None:
        self.done[key] = value
        if self.path is not None:
            with self.path.open("a") as handle:
                handle.write(json.dumps({"key": key, "value": value}) + "\n")

    def discard(self) -> None:
        """Remove the file: the build it served is saved."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
