"""Options shared by the commands that load a dataset."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import click

from afirs_dspy.cli.checks import writable_folder
from afirs_dspy.data import DATASETS, DEFAULT_DATASET, DataError, PreparedDataset, PreprocessConfig, load_dataset
from afirs_dspy.utils.paths import cache_dir


@dataclass(frozen=True)
class DatasetSpec:
    """What the user asked to load; ``load`` checks the cache folder is writable and turns data errors into
    one-line CLI errors."""

    name: str
    raw_dir: str | None
    cache_dir: str | None
    config: PreprocessConfig

    def load(self, force: bool = False) -> PreparedDataset:
        writable_folder(cache_dir(self.cache_dir), "--cache-dir")
        try:
            return load_dataset(self.name, self.raw_dir, self.cache_dir, self.config, force=force)
        except DataError as exc:
            raise click.ClickException(str(exc)) from None


def comma_separated(known: Sequence[str], noun: str):
    """A click callback: a comma-separated list of names from ``known``, repeats dropped (None stays None)."""
    def parse(ctx, param, value: str | None) -> list[str] | None:
        if value is None:
            return None
        names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise click.BadParameter(f"unknown {noun}(s) {', '.join(unknown) or '(none)'}; known: {', '.join(known)}")
        return names

    return parse


def dataset_options(command):
    """Add --dataset, --raw-dir, --cache-dir, --core and --min-rating; pass them on as ``data``."""

    @click.option(
        "--dataset", "name", type=click.Choice(sorted(DATASETS)), default=DEFAULT_DATASET, show_default=True,
        help="Dataset to use.",
    )
    @click.option(
        "--raw-dir", type=click.Path(file_okay=False), default=None,
        help="Folder with the dataset's files (official or subset layout). "
        "Default: bundled copy, $AFIRS_DATA_DIR/<name>, ./data/<name>, ../shared/data/<name>.",
    )
    @click.option(
        "--cache-dir", type=click.Path(file_okay=False), default=None,
        help="Prepared-data cache. Default: $AFIRS_CACHE_DIR or ~/.cache/afirs-dspy.",
    )
    @click.option("--core", type=click.IntRange(min=1), default=10, show_default=True,
                  help="Iterative k-core: users and items need at least this many interactions.")
    @click.option("--min-rating", type=float, default=3.0, show_default=True,
                  help="Drop interactions rated below this (sources with ratings only).")
    @functools.wraps(command)
    def wrapper(name, raw_dir, cache_dir, core, min_rating, **kwargs):
        spec = DatasetSpec(name, raw_dir, cache_dir, PreprocessConfig(min_rating=min_rating, core=core))
        return command(data=spec, **kwargs)

    return wrapper
