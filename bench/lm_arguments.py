"""The LM options every LM benchmark takes, so the same scripts run on a hosted or served model."""
from __future__ import annotations

import argparse

LM_OPTIONS = ("lm", "sim_lm", "api_base")


def add_lm_arguments(parser: argparse.ArgumentParser, simulator: bool = False) -> None:
    parser.add_argument("--lm", default=None, help="The program's LM, as `afirs-dspy eval --lm` (default: embedded).")
    parser.add_argument("--api-base", default=None, help="Server URL for --lm.")
    if simulator:
        parser.add_argument("--sim-lm", default=None, help="The LLM simulator's LM (default: --lm).")


def lm_flags(args: argparse.Namespace) -> list[str]:
    """``--lm X --api-base Y …`` for the options that were given."""
    flags = []
    for name in LM_OPTIONS:
        value = getattr(args, name, None)
        if value:
            flags += [f"--{name.replace('_', '-')}", value]
    return flags
