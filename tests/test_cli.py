"""The command line: help on every command, data prepare and stats on the bundled default."""
from __future__ import annotations

import json

import click
from click.testing import CliRunner

from afirs_dspy.cli import main


def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


def test_every_command_has_help():
    runner = CliRunner()
    paths = [()] + list(_commands(main))
    assert ("data", "prepare") in paths and ("data", "stats") in paths
    for path in paths:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: main" in result.output or "Usage:" in result.output


def test_prepare_then_stats_on_the_bundled_default(tmp_path):
    runner = CliRunner()
    prepared = runner.invoke(main, ["data", "prepare", "--cache-dir", str(tmp_path)])
    assert prepared.exit_code == 0, prepared.output
    assert "| 10-core (users and items) | 603 | 1,862 | 64,760 |" in prepared.output
    assert prepared.output.splitlines()[-1] == f"next: afirs-dspy train-recsys --cache-dir {tmp_path}"
    stats = runner.invoke(main, ["data", "stats", "--cache-dir", str(tmp_path), "--json"])
    row = json.loads(stats.output)
    assert (row["users"], row["items"], row["interactions"]) == (603, 1862, 64760)
    assert row["attributes"] > 1000 and row["items without attributes"] == 0


def test_data_list_names_every_dataset():
    output = CliRunner().invoke(main, ["data", "list"]).output
    for name in ("ml-latest-small", "ml-1m", "steam", "beauty"):
        assert f"{name}:" in output
