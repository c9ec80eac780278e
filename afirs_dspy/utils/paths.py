"""Where prepared data and trained artifacts live (explicit override > env var > default)."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AFIRS_CACHE_DIR"
ARTIFACTS_ENV = "AFIRS_ARTIFACTS_DIR"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Prepared-dataset cache: ``--cache-dir``, else $AFIRS_CACHE_DIR, else ~/.cache/afirs-dspy."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "afirs-dspy"


def artifacts_dir(override: str | os.PathLike | None = None) -> Path:
    """Trained models, trees and compiled programs: ``--artifacts-dir``, else $AFIRS_ARTIFACTS_DIR, else ./artifacts."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ARTIFACTS_ENV):
        return Path(os.environ[ARTIFACTS_ENV]).expanduser()
    return Path("artifacts")
