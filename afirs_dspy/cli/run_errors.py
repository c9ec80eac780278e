"""A run's errors (``afirs_dspy.utils.run_errors``, an LM's set-up error) as the command line's: one line each,
exit status 2 for settings, 1 for a run that cannot start or go on, 130 for Ctrl-C."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from afirs_dspy.lm.errors import LMSetupError
from afirs_dspy.utils.run_errors import RunError, RunInterrupted, SettingsError


@contextmanager
def as_cli_errors() -> Iterator[None]:
    try:
        yield
    except SettingsError as exc:
        if exc.option is None:
            raise click.UsageError(str(exc)) from None
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    except (RunError, LMSetupError) as exc:
        raise click.ClickException(str(exc)) from None
    except RunInterrupted as exc:
        click.echo(f"\n{exc}", err=True)
        raise click.exceptions.Exit(130) from None
