"""``afirs-dspy compile``: tune the program's prompts on validation sessions and save it with a manifest."""
from __future__ import annotations

import click

from afirs_dspy.cli import checks
from afirs_dspy.cli.lm_options import LM_HELP
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, comma_separated, dataset_options
from afirs_dspy.cli.run_errors import as_cli_errors
from afirs_dspy.optimize.compile_run import CompileRun, CompileRunSettings
from afirs_dspy.optimize.optimizers import OPTIMIZERS
from afirs_dspy.optimize.tasks import DEFAULT_MODULES, TASKS
from afirs_dspy.programs.registry import ABLATIONS
from afirs_dspy.utils.paths import artifacts_dir as resolve_artifacts


@click.command("compile")
@dataset_options
@click.option("--method", type=click.Choice(list(ABLATIONS)), default="afirs", show_default=True,
              help="The AF-IRS variant to compile.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="bootstrap", show_default=True,
              help="bootstrap: BootstrapFewShot; bootstrap-rs: with random search; mipro-*: MIPROv2 auto "
              "light/medium/heavy (instructions and demos); gepa: GEPA (reflective instruction search, uses the "
              "metrics' textual feedback).")
@click.option("--modules", default=",".join(DEFAULT_MODULES), show_default=True,
              callback=comma_separated(list(TASKS), "module"),
              help=f"Modules to tune, comma-separated: {'; '.join(f'{t.name} = {t.description}' for t in TASKS.values())}.")
@click.option("--n-sessions", type=click.IntRange(min=2), default=4, show_default=True,
              help="Validation users simulated: the first half gives the training examples, the second half "
              "the dev examples and the before/after session score. The main cost of a compile.")
@click.option("--budget", type=click.IntRange(min=1), default=24, show_default=True,
              help="Most metric calls per module for the searching optimizers (GEPA, random search).")
@click.option("--max-demos", type=click.IntRange(min=0), default=2, show_default=True,
              help="Few-shot demos per predictor (bootstrapped and labelled each).")
@click.option("--no-session-eval", is_flag=True,
              help="Skip simulating the dev users again after compiling (saves about half the time).")
@click.option("--max-turns", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the user sample, the simulator and the optimizer.")
@click.option("--num-threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel sessions and metric calls (useful with a served or hosted LM).")
@click.option("--lm", "lm_spec", default=None, help=LM_HELP)
@click.option("--api-base", default=None, help="Server URL for --lm.")
@click.option("--teacher-lm", "teacher_spec", default=None,
              help="LM that bootstraps the demos and proposes instructions (MIPROv2), in --lm's forms. Default: --lm.")
@click.option("--reflection-lm", "reflection_spec", default=None,
              help="GEPA's reflection LM, in --lm's forms. Default: --teacher-lm, else --lm.")
@click.option("--artifacts-dir", default=None, help="Artifacts root. Default: $AFIRS_ARTIFACTS_DIR or ./artifacts.")
@click.option("--out", default=None,
              help="Where to save the program: a .json file (DSPy JSON state; the manifest goes beside it as "
              "<stem>.manifest.json) or a folder for the default name. Default: "
              "<artifacts>/<dataset>/compiled/<method>-<optimizer>.json. The work done so far is kept in "
              "<stem>.progress/ beside it until the program is saved, so a rerun continues an interrupted compile.")
@click.option("--fresh", is_flag=True, help="Start over: delete the saved work of an earlier, unfinished compile.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def compile_command(data: DatasetSpec, **options) -> None:
    """Compile the program with a DSPy optimizer on validation sessions (never test targets), save it with
    a manifest, and print the validation scores before and after.

    Per module, the recorded calls of the program are labelled against the session's target (tree nodes
    leading to it, whether it is among the items shown, its rank among the candidates); the session score
    is success with a turn penalty. Use the result with `afirs-dspy eval --program PATH`,
    `afirs-dspy chat --program PATH` or `afirs_dspy.load_program(PATH)`.

    Everything it needs is checked first (--out, the artifacts, the LMs). The sessions and compiled modules
    are saved as they finish: after a crash, Ctrl-C or a failed save the same command continues.
    """
    settings = CompileRunSettings(**options)
    with as_cli_errors():
        out = checks.output_file(settings.out, settings.default_out(data.name))
        checks.writable_folder(resolve_artifacts(settings.artifacts_dir), "--artifacts-dir")
        run = CompileRun(settings, data, out, log=lambda line: click.echo(line, err=True))
        compiled = run.compile()
        for line in compiled.lines():
            click.echo(line)
        program_path, manifest_file = run.save(compiled)
    click.echo(f"saved {program_path} and {manifest_file}")
    echo_next("--program", str(program_path))
