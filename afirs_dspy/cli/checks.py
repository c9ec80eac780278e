"""What the commands check before any work, so that a long run cannot fail at its end on a bad path.

Each check raises a one-line ``click.ClickException`` saying what to change or which command to run; none
of them writes anything.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from afirs_dspy.artifacts.context import MissingArtifact, check_artifacts_present


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def writable_folder(folder: str | os.PathLike, option: str) -> Path:
    """``folder`` as a Path, once it is (or can be created as) a writable folder."""
    folder = Path(folder).expanduser()
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise click.ClickException(f"{option} {folder}: {existing} is a file, not a folder; choose another {option}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise click.ClickException(f"{option} {folder}: {existing} is not writable; choose another {option} "
                                   "or make it writable")
    return folder


def output_file(value: str | os.PathLike | None, default: Path, option: str = "--out") -> Path:
    """Where to write a JSON output: ``default`` when ``value`` is None, ``<folder>/<default's name>`` when
    ``value`` is a folder (an existing one, or one written with a trailing slash), else ``value``, which must
    end in .json; its folder must be writable and the file itself, if present, overwritable."""
    if value is None:
        path = default
    else:
        text = os.fspath(value)
        path = Path(text).expanduser()
        if path.is_dir() or text.endswith(("/", os.sep)):
            path = path / default.name
        elif path.suffix != ".json":
            raise click.ClickException(f"{option} {text}: a file must end in .json (e.g. {path.with_suffix('.json')}),"
                                       " or name a folder (e.g. " f"{text}/) to get {default.name} in it")
    writable_folder(path.parent, option)
    if path.exists() and not os.access(path, os.W_OK):
        raise click.ClickException(f"{option} {path} exists and is not writable; choose another {option}")
    return path


def artifacts_present(dataset_name: str, artifacts_dir: str | os.PathLike | None) -> None:
    """The dataset's preference tree and recommender checkpoint exist (whether they match the data is
    checked when they are loaded)."""
    try:
        check_artifacts_present(dataset_name, artifacts_dir)
    except MissingArtifact as exc:
        raise click.ClickException(str(exc)) from None
