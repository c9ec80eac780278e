"""The one command a user most likely runs next, printed when a command finishes."""
from __future__ import annotations

import shlex
from collections.abc import Iterable

import click
from click.core import ParameterSource

# Options that say which data, artifacts and LM a pipeline works on: the next command needs the same ones.
PIPELINE_OPTIONS = ("name", "raw_dir", "cache_dir", "core", "min_rating", "artifacts_dir", "lm_spec", "api_base")


def next_command(command: click.Command, *arguments: str, carry: Iterable[str] | None = PIPELINE_OPTIONS) -> str:
    """``next: afirs-dspy <command> <arguments>`` with the options given to the running command (not defaults)
    that ``command`` also takes; ``carry`` limits them to those names (None: every one)."""
    ctx = click.get_current_context()
    accepted = {param.name for param in command.params}
    carried = None if carry is None else set(carry)
    words = ["afirs-dspy", command.name, *arguments]
    for param in ctx.command.params:
        name = param.name
        if (not isinstance(param, click.Option) or name not in accepted or (carried is not None and name not in carried)
                or ctx.get_parameter_source(name) in (None, ParameterSource.DEFAULT)):
            continue
        value = ctx.params[name]
        option = param.opts[0]
        if param.is_flag:
            words += [option] if value else []
        elif param.multiple:
            words += [word for item in value for word in (option, str(item))]
        else:
            words += [option, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
    return "next: " + shlex.join(words)


def echo_next(command: click.Command, *arguments: str, carry: Iterable[str] | None = PIPELINE_OPTIONS) -> None:
    click.echo(next_command(command, *arguments, carry=carry))
