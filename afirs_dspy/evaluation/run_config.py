"""``run.json``: the settings that decide a run's sessions, so ``--resume`` only continues the same run."""
from __future__ import annotations

import json
import os
from pathlib import Path

RUN_FILE = "run.json"


class RunMismatch(Exception):
    """The output folder holds a different run (or one exists and resuming was not asked for)."""


def read_run_config(folder: str | os.PathLike) -> dict | None:
    path = Path(folder) / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_run_config(folder: str | os.PathLike, config: dict) -> None:
    path = Path(folder) / RUN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=1) + "\n")


def check_resumable(folder: str | os.PathLike, config: dict) -> None:
    """Raise RunMismatch, with the differing settings in one line, unless ``folder``'s run.json is ``config``."""
    stored = read_run_config(folder)
    config = json.loads(json.dumps(config))  # tuples → lists, as stored
    if stored is None or stored == config:
        return
    keys = sorted(set(stored) | set(config))
    differing = [f"{k}: {stored.get(k)!r} there, {config.get(k)!r} now" for k in keys if stored.get(k) != config.get(k)]
    raise RunMismatch(f"{Path(folder) / RUN_FILE} is a different run ({'; '.join(differing)}); "
                      "use another --out or the same settings")
