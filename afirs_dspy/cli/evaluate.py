"""``afirs-dspy eval``: simulated sessions of one or more methods, the paper's metrics, tables and a plot."""
from __future__ import annotations

import time
from pathlib import Path

import click

from afirs_dspy.cli import checks
from afirs_dspy.cli.chat import chat_command
from afirs_dspy.cli.lm_options import LM_HELP, open_lm
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, comma_separated, dataset_options
from afirs_dspy.compiled.program_file import restore_program
from afirs_dspy.artifacts.context import MissingArtifact, load_context
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.llm_simulator import LLMSimulators
from afirs_dspy.evaluation.provenance import code_provenance, simulator_settings
from afirs_dspy.evaluation.report import render_markdown, write_reports
from afirs_dspy.evaluation.run_config import RUN_FILE, RunMismatch, check_resumable, write_run_config
from afirs_dspy.evaluation.runner import Runner, TooManyErrors, complete_users, plan_jobs
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.evaluation.summary import build_summary
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.compiled.manifest import Manifest, ManifestMismatch, artifact_files, files_digest
from afirs_dspy.utils.paths import artifacts_dir as resolve_artifacts
from afirs_dspy.programs.afirs import MAX_RECOMMEND, AFIRSConfig
from afirs_dspy.programs.registry import METHODS, build_program

RESULT_FILES = (TRANSCRIPT, RUN_FILE, "results.md", "results.csv", "results.json", "sr_curve.png")


def _prepare_folder(out: Path, config: dict, resume: bool, overwrite: bool) -> None:
    if (out / RUN_FILE).exists() or (out / TRANSCRIPT).exists():
        if overwrite:
            for name in RESULT_FILES:
                (out / name).unlink(missing_ok=True)
        elif resume:
            check_resumable(out, config)
        else:
            raise click.ClickException(f"{out} already holds a run; --resume continues it, --overwrite starts it "
                                       "over, --out puts this one elsewhere")
    elif resume:
        click.echo(f"nothing to resume in {out}; starting a new run", err=True)
    write_run_config(out, config)


def _compile_users(manifest: Manifest) -> list[str]:
    """The users a program was compiled on (manifests before they were listed: its train and dev users)."""
    return manifest.optimizer.get("users") or [*manifest.scores.get("train_users", []),
                                               *manifest.scores.get("dev_users", [])]


@click.command("eval")
@dataset_options
@click.option("--method", "methods", default=None, callback=comma_separated(METHODS, "method"),
              help=f"Method, or several separated by commas (one table): {', '.join(METHODS)}. "
              "Default: afirs, unless --program is given.")
@click.option("--program", "program_paths", multiple=True, type=click.Path(dir_okay=False),
              help="A compiled program (`afirs-dspy compile`) to evaluate beside the methods; repeatable. "
              "It is named <file stem> in the table and must match the dataset and artifacts (checked).")
@click.option("--simulator", type=click.Choice(["attribute", "llm"]), default="attribute", show_default=True,
              help="attribute: deterministic, templated, no LM (fast, free, repeatable); llm: the paper's LLM "
              "simulator (Figure 4) on --sim-lm.")
@click.option("--n-sessions", type=click.IntRange(min=0), default=3, show_default=True,
              help="Sessions per method: a seeded sample of the split's users (0: all of them). The default is a "
              "quick check: with the embedded local model on a CPU a session takes minutes.")
@click.option("--split", type=click.Choice(["test", "valid"]), default="test", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the user sample and the simulators.")
@click.option("--include-compile-users", is_flag=True,
              help="Also sample the users a --program was compiled on (left out by default: its demos may come "
              "from their sessions).")
@click.option("--num-threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Sessions run in parallel (a local model still generates for one at a time).")
@click.option("--max-turns", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--baseline", default=None,
              help="Method the others are tested against (paired, same users). Default: the second method listed.")
@click.option("--lm", "lm_spec", default=None, help=LM_HELP)
@click.option("--api-base", default=None, help="Server URL for --lm, e.g. http://localhost:8000/v1.")
@click.option("--sim-lm", "sim_lm_spec", default=None,
              help="LM of the LLM simulator, in --lm's forms. Default: the same model as --lm (loaded once when local).")
@click.option("--sim-api-base", default=None, help="Server URL for --sim-lm (default: --api-base when --sim-lm is not given).")
@click.option("--n-candidates", type=click.IntRange(min=1), default=AFIRSConfig.n_candidates, show_default=True,
              help="Items the tool passes to the LM (HR@n is measured on them).")
@click.option("--n-recommend", type=click.IntRange(1, MAX_RECOMMEND), default=AFIRSConfig.n_recommend,
              show_default=True, help="Items recommended per turn.")
@click.option("--artifacts-dir", default=None, help="Artifacts root. Default: $AFIRS_ARTIFACTS_DIR or ./artifacts.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Results folder. Default: <artifacts>/<dataset>/eval/<methods>-<simulator>-<split>-n<N>-seed<S>.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=None,
              help="Minutes after which no new user is started; users already started get every method. The "
              "tables cover the users every method finished; --resume continues the run. Sizes a run by time "
              "rather than by --n-sessions.")
@click.option("--resume", is_flag=True, help="Continue the run in --out: finished sessions are not run again.")
@click.option("--overwrite", is_flag=True, help="Delete the run in --out and start over.")
@click.option("--max-errors", type=click.IntRange(min=1), default=10, show_default=True,
              help="Stop after this many sessions failed with an exception (e.g. an unreachable LM).")
@click.option("--max-error-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Exit with status 1 (after writing the tables) when more than this share of the sessions errored.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def eval_command(data: DatasetSpec, methods, program_paths, simulator, n_sessions, split, seed, include_compile_users,
                 num_threads, max_turns, baseline, lm_spec, api_base, sim_lm_spec, sim_api_base, n_candidates, n_recommend,
                 artifacts_dir, out, time_limit, resume, overwrite, max_errors, max_error_share, no_progress) -> None:
    """Simulate sessions (paper 5.1.2) and report SR@1/3/5, AT, DSR@5 and HR@n per method (5.1.4, 5.4).

    Every finished session is appended to <out>/transcript.jsonl; the tables come from it, so --resume
    after an interruption reports what an uninterrupted run would.
    """
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    checks.writable_folder(out or resolve_artifacts(artifacts_dir), "--out" if out else "--artifacts-dir")
    compiled = {Path(p).stem: Path(p) for p in program_paths}
    clash = set(compiled) & set(METHODS)
    if clash:
        raise click.BadParameter(f"rename {', '.join(clash)}: a compiled program may not be named like a method",
                                 param_hint="--program")
    methods = [*(methods if methods is not None else ([] if compiled else ["afirs"])), *compiled]
    baseline = baseline or (methods[1] if len(methods) > 1 else None)
    if baseline is not None and baseline not in methods:
        raise click.BadParameter(f"{baseline!r} is not among --method {','.join(methods)}", param_hint="--baseline")
    dataset = data.load()
    try:
        context = load_context(dataset, artifacts_dir)
    except MissingArtifact as exc:
        raise click.ClickException(str(exc)) from None

    with LocalEngines() as engines:
        program_lm = open_lm(lm_spec, api_base, engines)
        sim_lm, sim_base = None, None
        if simulator == "llm":
            sim_base = sim_api_base or (None if sim_lm_spec else api_base)
            sim_lm = open_lm(sim_lm_spec or lm_spec, sim_base, engines, "--sim-lm")
        elif sim_lm_spec:
            click.echo("--sim-lm is only used by --simulator llm; ignored", err=True)
        sizes = AFIRSConfig(n_candidates=n_candidates, n_recommend=n_recommend)
        programs = {method: build_program(method, context, sizes) for method in methods if method not in compiled}
        excluded: set[str] = set()
        for name, path in compiled.items():
            try:
                programs[name], manifest = restore_program(path, context, artifacts_dir)
            except ManifestMismatch as exc:
                raise click.ClickException(str(exc)) from None
            if not include_compile_users:
                excluded |= set(_compile_users(manifest))
        simulators = (AttributeSimulators(context, seed) if simulator == "attribute"
                      else LLMSimulators(context, sim_lm))
        n_label = n_sessions or "all"
        folder = Path(out) if out else (resolve_artifacts(artifacts_dir) / dataset.name / "eval"
                                        / f"{'+'.join(methods)}-{simulator}-{split}-n{n_label}-seed{seed}")
        runner = Runner(programs, simulators, Transcript(folder / TRANSCRIPT), program_lm, context.catalog.titles,
                        max_turns, num_threads, max_errors, progress=not no_progress,
                        time_limit=None if time_limit is None else 60 * time_limit)
        config = {
            "dataset": dataset.name, "dataset_key": dataset.data_key, "methods": methods,
            "simulator": simulator, "split": split, "seed": seed, "n_sessions": n_sessions, "max_turns": max_turns,
            "n_candidates": n_candidates, "n_recommend": n_recommend, "lm": program_lm.model, "api_base": api_base,
            "sim_lm": sim_lm.model if sim_lm else None, "sim_api_base": sim_base,
            **{name: files_digest(paths)[:16] for name, paths in artifact_files(dataset.name, artifacts_dir).items()},
            "programs": {name: files_digest([path])[:16] for name, path in compiled.items()},
            **code_provenance(), "program_hashes": runner.program_hashes,
            "simulator_settings": simulator_settings(simulators), "excluded_users": sorted(excluded),
        }
        try:
            _prepare_folder(folder, config, resume, overwrite)
        except RunMismatch as exc:
            raise click.ClickException(str(exc)) from None
        jobs = plan_jobs(methods, sample_cases(dataset, split, n_sessions, seed, exclude=excluded))
        already = len(jobs) - len(runner.pending(jobs))
        started = time.perf_counter()
        try:
            by_method = runner.run(jobs)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted; finished sessions are in {folder / TRANSCRIPT}: "
                       "run the same command with --resume to continue", err=True)
            raise click.exceptions.Exit(130) from None
        except TooManyErrors as exc:
            raise click.ClickException(f"stopped: {exc}\nFinished sessions are in {folder / TRANSCRIPT}; "
                                       "fix the cause and run the same command with --resume") from None
        elapsed = time.perf_counter() - started

    left = len(jobs) - sum(map(len, by_method.values()))
    if left:
        by_method = complete_users(by_method)
        click.echo(f"time limit reached: {left} sessions not run (--resume continues); the tables cover the "
                   f"{len(next(iter(by_method.values()), []))} users every method finished", err=True)
    title = f"{dataset.name} ({split}), {simulator} simulator, seed {seed}"
    summary = build_summary(by_method, methods, max_turns, n_candidates, baseline, seed)
    paths = write_reports(summary, config, folder, title)
    click.echo(render_markdown(summary, title))
    ran = len(jobs) - left - already
    click.echo(f"{ran} sessions run in {elapsed:.1f} s ({elapsed / max(ran, 1):.1f} s per session)"
               + (f"; {already} taken from the transcript" if already else ""))
    errored = sum(row["errors"] for row in summary["rows"])
    if errored:
        click.echo(f"{errored} sessions errored (counted as failures; --resume retries them); "
                   f"see status/error in {folder / TRANSCRIPT}", err=True)
    click.echo(f"results in {folder}: {', '.join(p.name for p in paths.values())}, {TRANSCRIPT}")
    if left or errored:
        echo_next(eval_command, *([] if resume else ["--resume"]),
                  carry=[p.name for p in eval_command.params if p.name != "overwrite"])
    else:
        echo_next(chat_command, *(["--program", str(compiled[methods[0]])] if methods[0] in compiled
                                  else ["--method", methods[0]]))
    finished = sum(map(len, by_method.values()))
    if errored > max_error_share * finished:
        raise click.ClickException(f"{errored} of {finished} sessions errored, more than --max-error-share "
                                   f"{max_error_share:g}: the tables do not measure the method(s)")
