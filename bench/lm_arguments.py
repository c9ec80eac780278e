"""The LM options every LM benchmark takes, so the same scripts run on a hosted or served model."""
from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_lm_arguments(parser: argparse.ArgumentParser, simulator: bool = False) -> None:
    parser.add_argument("--lm", default=None, help="The program's LM, as `afirs-dspy eval --lm` (default: embedded).")
    parser.add_argument("--api-base", default=None, help="Server URL for --lm.")
    if simulator:
        parser.add_argument("--sim-lm", default=None, help="The LLM simulator's LM (default: --lm).")


def lm_settings(args: argparse.Namespace, simulator: bool = False) -> dict:
    """The options as the run objects' settings (``EvalSettings``, ``CompileRunSettings``) name them."""
    return {"lm_spec": args.lm, "api_base": args.api_base, **({"sim_lm_spec": args.sim_lm} if simulator else {})}


def option_words(pairs: Sequence[tuple[str, object]]) -> list[str]:
    """Command-line words for the options that have a value: ``[("--lm", "x"), ("--api-base", None)]`` →
    ``["--lm", "x"]``."""
    return [word for option, value in pairs if value for word in (option, str(value))]
