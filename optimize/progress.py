"""What a compile has done so far, kept on disk so that a rerun after a crash, an interrupt or a failed save
continues where it stopped.

The folder (``<output stem>.progress/`` beside the output) holds ``key.json`` (what the work is bound to:
the data key, the artifacts, the code, the settings), ``recorded.jsonl`` and ``reevaluated.jsonl`` (one
simulated session per line, appended as each ends) and ``modules/<name>.json`` (a compiled module's state
and dev scores, written as it finishes). Work done under another key is never reused.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dspy

from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.utils.jsonl_file import append_line, read_lines
from afirs_dspy.optimize.recording import RecordedSession, input_types

KEY_FILE = "key.json"
STAGES = ("recorded", "reevaluated")


class ProgressMismatch(Exception):
    """The folder holds the work of a compile with other data, artifacts, code or settings."""


def progress_dir(output: str | os.PathLike) -> Path:
    path = Path(output)
    return path.with_name(f"{path.stem}.progress")


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(staging, path)


class CompileProgress:
    """The saved work of one compile of ``program`` under ``key``: see the module docstring."""

    def __init__(self, folder: str | os.PathLike, key: dict, program: dspy.Module, fresh: bool = False):
        """Open ``folder`` for ``key``; ``fresh`` deletes what it holds. ProgressMismatch when it holds the work
        of another key."""
        self.folder = Path(folder)
        self.types = input_types(program)
        key = json.loads(json.dumps(key))  # as it reads back (tuples become lists)
        if fresh:
            self.remove()
        saved = self.folder / KEY_FILE
        if saved.is_file():
            old = json.loads(saved.read_text())
            differ = sorted(k for k in {*old, *key} if old.get(k) != key.get(k))
            if differ:
                raise ProgressMismatch(f"{self.folder} holds the work of a compile with other {', '.join(differ)}: "
                                       "--fresh starts over, or --out puts this compile elsewhere")
        else:
            _write_atomically(saved, key)

    def sessions(self, stage: str) -> dict[SessionCase, RecordedSession]:
        """The sessions saved for ``stage`` (one of STAGES), by case."""
        sessions = (RecordedSession.from_dict(data, self.types) for data in read_lines(self._stage_file(stage)))
        return {session.case: session for session in sessions}

    def add_session(self, stage: str, session: RecordedSession) -> None:
        append_line(self._stage_file(stage), session.to_dict(self.types))

    def module(self, name: str) -> dict | None:
        """``{"result": …, "state": …}`` of module ``name`` as ``save_module`` wrote it, or None."""
        path = self.folder / "modules" / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def save_module(self, name: str, result: dict, state: dict | None) -> None:
        _write_atomically(self.folder / "modules" / f"{name}.json", {"result": result, "state": state})

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stage_file(self, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
        return self.folder / f"{stage}.jsonl"
