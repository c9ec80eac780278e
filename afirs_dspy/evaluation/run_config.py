"""``run.json``: what decides a run's sessions — the settings, the code (``provenance``), each method's
program state and the simulator's settings — so that ``--resume`` only continues the very same run."""
from __future__ import annotations

import json
import os
from pathlib import Path

from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript

RUN_FILE = "run.json"
# Recorded for the reader, not compared: the same sources under another commit make the same sessions.
NOT_COMPARED = ("git_commit",)
START_FRESH = "start fresh with --overwrite (deletes that run) or another --out"


class RunMismatch(Exception):
    """The output folder holds a different run, or sessions that cannot be checked."""


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
    """Raise RunMismatch, in one line saying what differs and how to start fresh, unless ``folder`` holds the
    run ``config`` describes: its run.json equal to ``config`` and every session in its transcript made by the
    program state (``program_hash``) that ``config["program_hashes"]`` names for its method."""
    folder = Path(folder)
    stored = read_run_config(folder)
    if stored is None:
        if (folder / TRANSCRIPT).exists():
            raise RunMismatch(f"{folder / TRANSCRIPT} has no {RUN_FILE} beside it, so what made its sessions cannot "
                              f"be checked; {START_FRESH}")
        return
    config = json.loads(json.dumps(config))  # tuples → lists, as stored
    keys = sorted((set(stored) | set(config)) - set(NOT_COMPARED))
    differing = [f"{k}: {stored.get(k)!r} there, {config.get(k)!r} now" for k in keys if stored.get(k) != config.get(k)]
    if differing:
        raise RunMismatch(f"{folder / RUN_FILE} is a different run ({'; '.join(differing)}); {START_FRESH}, "
                          "or resume with the same code and settings")
    hashes = config.get("program_hashes", {})
    foreign = sorted({f"{r.method} ({r.program_hash or 'no hash'})" for r in Transcript(folder / TRANSCRIPT).read()
                      if r.program_hash != hashes.get(r.method)})
    if foreign:
        raise RunMismatch(f"{folder / TRANSCRIPT} holds sessions of other program states than this run's: "
                          f"{', '.join(foreign)}; {START_FRESH}")
