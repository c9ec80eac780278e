"""The ``afirs-dspy`` command line."""
import click

from afirs_dspy.cli.chat import chat_command
from afirs_dspy.cli.compile import compile_command
from afirs_dspy.cli.data import data_group
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.next_step import register
from afirs_dspy.cli.serve import serve_command
from afirs_dspy.cli.train_recsys import train_recsys
from afirs_dspy.cli.tree import build_tree_command, extract_command
from afirs_dspy.cli.version import print_version
from afirs_dspy.lm.errors import LMSetupError


class Main(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LMSetupError as exc:  # e.g. an LM still unreachable after DSPy's retries: one line, no traceback
            raise click.ClickException(str(exc)) from None


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="Show the afirs-dspy, DSPy and llama-cpp-python versions and the embedded model's state, then exit.")
def main() -> None:
    """AF-IRS interactive recommender: data, recommender tool, DSPy program."""


for command in (data_group, train_recsys, build_tree_command, extract_command, compile_command, eval_command,
                chat_command, serve_command):
    main.add_command(command)
register(main)
