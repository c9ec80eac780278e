"""--lm / --api-base for the commands that run the DSPy program."""
from __future__ import annotations

import functools

import click
import dspy

from afirs_dspy.lm import opening
from afirs_dspy.lm.backends import LMOptions, LocalEngines
from afirs_dspy.lm.errors import LMSetupError

LM_HELP = (
    "LM for the program: none or 'local' for the embedded llama.cpp model, 'local:<name>', "
    "'gguf:<path>[#sha256=<hex>]', or any dspy.LM model string (e.g. openai/gpt-4o-mini, ollama_chat/qwen2.5)."
)


def lm_options(command):
    """Add --lm and --api-base; pass on ``lm`` (a function returning the configured dspy.LM)."""

    @click.option("--lm", "lm_spec", default=None, help=LM_HELP)
    @click.option("--api-base", default=None, help="Server URL for --lm, e.g. http://localhost:8000/v1.")
    @functools.wraps(command)
    def wrapper(lm_spec, api_base, **kwargs):
        return command(lm=functools.partial(open_lm, lm_spec, api_base), **kwargs)

    return wrapper


def program_lm_options(command):
    """Add --lm, --api-base and --artifacts-dir for the commands that may load a compiled program, whose
    manifest gives their defaults (passed on as ``lm_spec``, ``api_base``, ``artifacts_dir``)."""
    for option in reversed((
        click.option("--lm", "lm_spec", default=None, help=LM_HELP + " With --program: overrides the manifest's LM."),
        click.option("--api-base", default=None, help="Server URL for --lm."),
        click.option("--artifacts-dir", default=None, help="Artifacts root. Default: the manifest's, else ./artifacts."),
    )):
        command = option(command)
    return command


def open_lm(spec: str | None, api_base: str | None, engines: LocalEngines | None = None,
            option: str = "--lm", options: LMOptions | None = None) -> dspy.LM:
    """``opening.open_lm`` with set-up errors (missing install or model file, bad spec, a remote LM that does not
    answer a one-token call) as one-line CLI errors, before any work."""
    try:
        return opening.open_lm(spec, api_base, engines, option, options)
    except LMSetupError as exc:
        raise click.ClickException(str(exc)) from None
