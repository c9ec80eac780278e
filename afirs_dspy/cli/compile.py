"""``afirs-dspy compile``: tune the program's prompts on validation sessions and save it with a manifest."""
from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import click

from afirs_dspy.cli import checks
from afirs_dspy.cli.evaluate import eval_command
from afirs_dspy.cli.lm_options import LM_HELP, open_lm
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, comma_separated, dataset_options
from afirs_dspy.compiled.program_file import new_manifest, save_program
from afirs_dspy.artifacts.context import MissingArtifact, load_context
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.lm.errors import LMUnavailable
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.compiled.manifest import Manifest, artifact_files, files_digest
from afirs_dspy.optimize.compiler import CompileSettings, compile_program
from afirs_dspy.optimize.optimizers import OPTIMIZERS, OptimizerSettings, OptimizerUnavailable, check_available
from afirs_dspy.evaluation.provenance import code_digest
from afirs_dspy.optimize.progress import CompileProgress, ProgressMismatch, progress_dir
from afirs_dspy.optimize.tasks import DEFAULT_MODULES, TASKS
from afirs_dspy.utils.paths import artifacts_dir as resolve_artifacts
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import ABLATIONS, build_program


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
def compile_command(data: DatasetSpec, method, optimizer, modules, n_sessions, budget, max_demos, no_session_eval,
                    max_turns, seed, num_threads, lm_spec, api_base, teacher_spec, reflection_spec, artifacts_dir, out,
                    fresh, no_progress) -> None:
    """Compile the program with a DSPy optimizer on validation sessions (never test targets), save it with
    a manifest, and print the validation scores before and after.

    Per module, the recorded calls of the program are labelled against the session's target (tree nodes
    leading to it, whether it is among the items shown, its rank among the candidates); the session score
    is success with a turn penalty. Use the result with `afirs-dspy eval --program PATH`,
    `afirs-dspy chat --program PATH` or `afirs_dspy.load_program(PATH)`.

    Everything it needs is checked first (--out, the artifacts, the LMs). The sessions and compiled modules
    are saved as they finish: after a crash, Ctrl-C or a failed save the same command continues.
    """
    root = resolve_artifacts(artifacts_dir)
    out = checks.output_file(out, root / data.name / "compiled" / f"{method}-{optimizer}.json")
    checks.writable_folder(root, "--artifacts-dir")
    checks.artifacts_present(data.name, artifacts_dir)
    try:
        check_available(optimizer)
    except OptimizerUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    settings = CompileSettings(modules=tuple(modules), max_turns=max_turns, session_eval=not no_session_eval,
                               num_threads=num_threads,
                               optimizer=OptimizerSettings(optimizer, max_demos, budget, seed, num_threads))
    config = AFIRSConfig()
    with LocalEngines() as engines:
        lm = open_lm(lm_spec, api_base, engines)
        teacher = open_lm(teacher_spec, None, engines, "--teacher-lm") if teacher_spec else None
        reflection = open_lm(reflection_spec, None, engines, "--reflection-lm") if reflection_spec else None
        dataset = data.load()
        try:
            context = load_context(dataset, artifacts_dir)
        except MissingArtifact as exc:
            raise click.ClickException(str(exc)) from None
        program = build_program(method, context, config)
        cases = sample_cases(dataset, "valid", n_sessions, seed)
        # What the saved work depends on (not --num-threads or --no-session-eval, which change no result).
        key = {"method": method, "config": asdict(config), "data_key": dataset.data_key, "code": code_digest(),
               **{name: files_digest(paths) for name, paths in artifact_files(dataset.name, artifacts_dir).items()},
               "lm": lm.model, "api_base": api_base, "teacher_lm": teacher_spec, "reflection_lm": reflection_spec,
               "users": [case.user for case in cases], "seed": seed, "max_turns": max_turns, "modules": list(modules),
               "optimizer": {k: v for k, v in asdict(settings.optimizer).items() if k != "num_threads"}}
        try:
            saved = CompileProgress(progress_dir(out), key, program, fresh)
        except ProgressMismatch as exc:
            raise click.ClickException(str(exc)) from None
        kept = (f"the sessions and modules finished so far are saved in {saved.folder}: run the same command to "
                "continue (--fresh starts over)")
        try:
            with lm_failures_explained(*(m for m in (lm, teacher, reflection) if m is not None)):
                report = compile_program(program, context.tree, context.catalog, AttributeSimulators(context, seed),
                                         cases, lm, settings, teacher, reflection, progress=not no_progress,
                                         log=lambda line: click.echo(line, err=True), saved=saved)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted; {kept}", err=True)
            raise click.exceptions.Exit(130) from None
        except LMUnavailable as exc:
            raise click.ClickException(f"{exc}\n{kept[0].upper()}{kept[1:]}") from None
        except Exception:
            click.echo(f"{kept[0].upper()}{kept[1:]}", err=True)
            raise
    manifest = new_manifest(
        method, config, context, data.raw_dir, data.config, artifacts_dir, lm_spec, api_base,
        optimizer={"name": optimizer, "modules": list(modules), "n_sessions": n_sessions, "budget": budget,
                   "users": [case.user for case in cases],  # eval leaves them out of its samples
                   "max_demos": max_demos, "seed": seed, "teacher_lm": teacher_spec, "reflection_lm": reflection_spec},
        scores=report.to_dict(),
    )
    click.echo(report.render())
    verdict = {True: "improved", False: "did not improve", None: "was not measured (--no-session-eval)"}[report.improved]
    click.echo(f"\ncompiled in {report.seconds / 60:.1f} min; the program {'changed' if report.changed else 'did not change'}"
               f" and its dev session score {verdict}")
    try:
        program_path, manifest_file = save_program(program, out, manifest)
    except (OSError, ValueError) as exc:
        fallbacks = [root / dataset.name / "compiled" / f"{out.stem}.recovered.json",
                     Path(tempfile.gettempdir()) / f"afirs-dspy-{out.stem}.json"]
        recovered = _save_elsewhere(program, manifest, fallbacks)
        where = f"saved it to {recovered} (manifest beside it) instead" if recovered else "could not save it elsewhere"
        raise click.ClickException(
            f"could not save the program to {out} ({exc}); {where}. The finished work stays in {saved.folder}: "
            "fix the cause and rerun the same command to save it there") from None
    saved.remove()
    click.echo(f"saved {program_path} and {manifest_file}")
    echo_next(eval_command, "--program", str(program_path))


def _save_elsewhere(program, manifest: Manifest, paths: list[Path]) -> Path | None:
    """The first of ``paths`` the program and its manifest could be saved to, or None."""
    for path in paths:
        try:
            return save_program(program, path, manifest)[0]
        except (OSError, ValueError):
            continue
    return None
