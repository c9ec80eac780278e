"""The one command a user most likely runs next, printed when a command finishes.

``NEXT`` is the pipeline's order in one table; the commands are looked up by name among those the
``afirs-dspy`` group registers (``register``), so no command imports the one that follows it.
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable

import click
from click.core import ParameterSource

# Options that say which data, artifacts and LM a pipeline works on: the next command needs the same ones.
PIPELINE_OPTIONS = ("name", "raw_dir", "cache_dir", "core", "min_rating", "artifacts_dir", "lm_spec", "api_base")
# The command that usually follows each one.
NEXT = {"prepare": "train-recsys", "train-recsys": "build-tree", "build-tree": "compile", "compile": "eval",
        "eval": "chat"}
_COMMANDS: dict[str, click.Command] = {}


def register(group: click.Group) -> None:
    """Make ``group``'s commands (and those of its subgroups) known by name."""
    for name, command in group.commands.items():
        _COMMANDS[name] = command
        if isinstance(command, click.Group):
            register(command)


def next_command(*arguments: str, then: str | None = None, carry: Iterable[str] | None = PIPELINE_OPTIONS) -> str:
    """``next: afirs-dspy <command> <arguments>`` for the command after the running one in ``NEXT`` (or
    ``then``), with the options given to the running command (not defaults) that it also takes; ``carry``
    limits them to those names (None: every one)."""
    ctx = click.get_current_context()
    command = _COMMANDS[then or NEXT[ctx.command.name]]
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


def echo_next(*arguments: str, then: str | None = None, carry: Iterable[str] | None = PIPELINE_OPTIONS) -> None:
    click.echo(next_command(*arguments, then=then, carry=carry))
