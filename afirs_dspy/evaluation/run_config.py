"""``run.json``: the settings that decide a run's sessions, so ``--resume`` only continues the same run."""
from __future__ import annotations

import json
import os
from pathlib import Path

RUN_FILE = "run.json"


class RunMismatch(Exception):
    """The output folder holds a different run (or one exists and resuming was not asked for)."""


def read_run_config(folder: str | os.PathLike) -> dict | None:
    """``folder``'s run.json, None without one; RunMismatch when it is not a run's settings."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = None
    if not isinstance(config, dict):
        raise RunMismatch(f"{path} is not a run's settings (unreadable JSON): --overwrite starts the run over, "
                          "or use another --out")
    return config


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
