"""``afirs-dspy chat`` on the toy world with the scripted LM, as its own process (the pseudo-terminal test runs it).

Usage: python chat_in_toy_world.py FOLDER SECONDS_PER_LM_CALL [chat options...]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import afirs_dspy.cli.chat as chat  # noqa: E402
import afirs_dspy.lm.opening as lm_opening  # noqa: E402
from afirs_dspy.cli import main  # noqa: E402
from afirs_dspy.cli.options import DatasetSpec  # noqa: E402
from test_eval_runner import toy_lm  # noqa: E402
from toy_world import toy_context, toy_dataset  # noqa: E402


def slowed(lm, seconds: float):
    """The scripted LM taking ``seconds`` per answer, so a turn lasts long enough for the spinner to draw."""
    def wrap(rule):
        return lambda prompt: (time.sleep(seconds), rule(prompt) if callable(rule) else rule)[1]

    lm.rules = {marker: wrap(rule) for marker, rule in lm.rules.items()}
    return lm


if __name__ == "__main__":
    folder, seconds, *options = sys.argv[1:]
    context = toy_context(Path(folder))
    DatasetSpec.load = lambda self, force=False: toy_dataset()
    chat.load_context = lambda dataset, artifacts_dir=None: context
    lm_opening.make_lm = lambda spec, api_base=None, options=None, engines=None: slowed(toy_lm(), float(seconds))
    main(["chat", *options], prog_name="afirs-dspy")
