"""``afirs-dspy chat``: talk to a (compiled) program in the terminal, as a user would."""
from __future__ import annotations

import contextlib
import sys

import click
import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.cli.lm_options import open_lm, program_lm_options
from afirs_dspy.cli.options import DatasetSpec, dataset_options
from afirs_dspy.cli.turn_progress import TurnProgress
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.compiled.program_file import load_program
from afirs_dspy.artifacts.context import MissingArtifact, load_context
from afirs_dspy.data import PreparedDataset
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.lm.errors import LMSetupError
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.compiled.manifest import ManifestMismatch
from afirs_dspy.programs.registry import METHODS, build_program
from afirs_dspy.explain.explanation import explain_turn
from afirs_dspy.explain.recorder import TurnRecorder
from afirs_dspy.explain.text_lines import explanation_lines

QUIT = {"", "quit", "exit", "bye"}


def user_history(dataset: PreparedDataset, user: str | None, split: str) -> list[int]:
    """The user's history before their ``split`` target (their target stays unknown to the program)."""
    if user is None:
        return []
    table = dataset.split(split)
    rows = table[table.user.astype(str) == str(user)]
    if rows.empty:
        raise click.BadParameter(f"no user {user!r} in the {split} split of {dataset.name} "
                                 f"(e.g. {', '.join(map(str, table.user[:3]))})", param_hint="--user")
    return [int(i) for i in rows.history.iloc[0]]


def show_details(turn: dspy.Prediction, recorder: TurnRecorder, catalog: Catalog, tree: PreferenceTree | None) -> None:
    """What --verbose prints under each reply: the turn's explanation (decision, tree path, funnel, items, trace)."""
    for line in explanation_lines(explain_turn(turn, recorder.stages, catalog, tree)):
        click.echo(click.style(f"  {line}", dim=True))


@click.command("chat")
@dataset_options
@click.option("--program", "program_path", type=click.Path(dir_okay=False), default=None,
              help="A compiled program (`afirs-dspy compile`); its manifest gives the dataset and the LM.")
@click.option("--method", type=click.Choice(METHODS), default="afirs", show_default=True,
              help="Without --program: the (uncompiled) method to talk to.")
@click.option("--user", default=None, help="Play this user of the dataset: the program sees their history.")
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True,
              help="Which history of --user (the one before their test or validation item).")
@click.option("--verbose", "-v", is_flag=True, help="Show the decision, preferences, candidates and trace per turn.")
@click.option("--quiet", "-q", is_flag=True, help="No stage lines or spinner while a turn runs.")
@program_lm_options
def chat_command(data: DatasetSpec, program_path, method, user, split, verbose, quiet, lm_spec, api_base,
                 artifacts_dir) -> None:
    """Talk to the recommender. Type a message; an empty line, 'quit' or Ctrl-D ends."""
    with contextlib.ExitStack() as stack:
        try:
            if program_path:
                program = stack.enter_context(load_program(program_path, lm_spec, api_base, artifacts_dir,
                                                           data.raw_dir, data.cache_dir))
                dataset, catalog, label, lm = program.context.dataset, program.context.catalog, program_path, program.lm
                tree = program.context.tree
                if click.get_current_context().get_parameter_source("name").name != "DEFAULT" and data.name != dataset.name:
                    raise click.UsageError(f"{program_path} was compiled on {dataset.name}, not {data.name}")
            else:
                dataset = data.load()
                context = load_context(dataset, artifacts_dir)
                lm = open_lm(lm_spec, api_base, stack.enter_context(LocalEngines()))
                program, catalog, label = build_program(method, context), context.catalog, method
                tree = context.tree
        except (MissingArtifact, ManifestMismatch, LMSetupError) as exc:
            raise click.ClickException(str(exc)) from None
        history = user_history(dataset, user, split)
        who = f"user {user} ({len(history)} items in their history)" if user else "a new user (no history)"
        click.echo(f"{label} on {dataset.name}, as {who}. An empty line or 'quit' ends.")
        # The recorder keeps each stage for --verbose; without --quiet it also prints them as they finish.
        recorder = (TurnRecorder(program) if quiet else TurnProgress(program, sys.stderr, spinner=sys.stderr.isatty()))
        dialogue: list[dict] = []
        while True:
            try:
                text = click.prompt("you", default="", show_default=False, prompt_suffix="> ").strip()
            except click.Abort:  # Ctrl-D / end of input
                break
            if text.lower() in QUIT:
                break
            dialogue.append({"role": "user", "content": text})
            recorder.reset()
            with dspy.context(lm=lm), recorder.watching(), lm_failures_explained(lm):
                turn = program(dialogue=list(dialogue), history=history)
            click.echo(f"recommender> {turn['reply']}")
            if verbose:
                show_details(turn, recorder, catalog, tree)
            dialogue.append(dict(turn["message"]))
