"""``python -m afirs_dspy.cli``: the same as the ``afirs-dspy`` command."""
from afirs_dspy.cli import main

main()
