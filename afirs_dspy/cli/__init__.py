"""The ``afirs-dspy`` command line."""
import click

from afirs_dspy.cli.data import data_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="afirs-dspy")
def main() -> None:
    """AF-IRS interactive recommender: data, recommender tool, DSPy program."""


main.add_command(data_group)
