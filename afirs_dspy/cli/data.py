"""``afirs-dspy data``: prepare datasets and show their statistics."""
from __future__ import annotations

import json

import click

from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.data import DATASETS
from afirs_dspy.data.registry import search_dirs
from afirs_dspy.data.stats import dataset_stats
from afirs_dspy.utils.tables import markdown_table


@click.group("data")
def data_group() -> None:
    """Prepare datasets (filter, split, cache) and show their statistics."""


@data_group.command("prepare")
@dataset_options
@click.option("--force", is_flag=True, help="Rebuild the cached splits even when they exist.")
def prepare_command(data: DatasetSpec, force: bool) -> None:
    """Read a dataset, apply the paper's preprocessing and cache the splits."""
    dataset = data.load(force=force)
    report = dataset.report
    click.echo(f"{dataset.name}: {report['format']} from {report['source_dir']}")
    click.echo(markdown_table(report["stages"]))
    for note in report["notes"]:
        click.echo(f"- {note}")
    sessions = report["sessions"]
    click.echo(
        f"prepared: {dataset.n_items:,} items, {report['interactions']:,} interactions, "
        f"{sessions['valid']:,} valid and {sessions['test']:,} test sessions (data key {report['data_key'][:16]})"
    )
    echo_next()


@data_group.command("stats")
@dataset_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a markdown table.")
def stats_command(data: DatasetSpec, as_json: bool) -> None:
    """Print dataset statistics like the paper's Table 1 (prepares the dataset if needed)."""
    row = dataset_stats(data.load())
    click.echo(json.dumps(row, indent=1) if as_json else markdown_table([row]))


@data_group.command("list")
def list_command() -> None:
    """List the known datasets, the files each needs and where they are looked for."""
    for source in DATASETS.values():
        click.echo(f"{source.name}: {source.description}")
        click.echo(f"  files: {source.expected()}")
        where = ["bundled"] if source.bundled else []
        where += [str(d) for d in search_dirs(source.name)]
        click.echo(f"  searched: {', '.join(where)}" + (" (then downloaded)" if source.download else ""))
