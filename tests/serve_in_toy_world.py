"""``afirs-dspy serve`` on the toy world with the scripted LM, as its own process (the browser test runs it).

Usage: python serve_in_toy_world.py FOLDER SECONDS_PER_LM_CALL [serve options...]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import afirs_dspy.cli.lm_options as lm_options  # noqa: E402
import afirs_dspy.cli.serve as serve  # noqa: E402
from afirs_dspy.cli import main  # noqa: E402
from afirs_dspy.cli.options import DatasetSpec  # noqa: E402
from chat_in_toy_world import slowed  # noqa: E402
from test_eval_runner import toy_lm  # noqa: E402
from toy_world import toy_context, toy_dataset  # noqa: E402

if __name__ == "__main__":
    folder, seconds, *options = sys.argv[1:]
    context = toy_context(Path(folder))
    DatasetSpec.load = lambda self, force=False: toy_dataset()
    serve.load_context = lambda dataset, artifacts_dir=None: context
    lm_options.make_lm = lambda spec, api_base=None, engines=None: slowed(toy_lm(), float(seconds))
    main(["serve", *options], prog_name="afirs-dspy")
