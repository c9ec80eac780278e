"""``afirs-dspy eval``: simulated sessions of one or more methods, the paper's metrics, tables and a plot."""
from __future__ import annotations

import click

from afirs_dspy.cli import checks
from afirs_dspy.cli.lm_options import LM_HELP
from afirs_dspy.cli.next_step import echo_next
from afirs_dspy.cli.options import DatasetSpec, comma_separated, dataset_options
from afirs_dspy.cli.run_errors import as_cli_errors
from afirs_dspy.evaluation.eval_run import EvalRun, EvalSettings
from afirs_dspy.evaluation.sampling import DEVELOPMENT_USERS, POOLS
from afirs_dspy.evaluation.summary import BASELINE_RULE
from afirs_dspy.programs.afirs import MAX_RECOMMEND, AFIRSConfig
from afirs_dspy.programs.registry import METHODS
from afirs_dspy.utils.paths import artifacts_dir as resolve_artifacts


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
@click.option("--users", type=click.Choice(POOLS), default=None,
              help="Which users of --split test: evidence (the default: users no development benchmark samples), "
              f"development (the slice the benchmarks sample: the first {DEVELOPMENT_USERS} of seed 0's order) or all.")
@click.option("--shard", default=None, metavar="K/N",
              help="Run slice K of N of the sampled users (positions K, K+N, …), e.g. one machine's share.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the user sample and the simulators.")
@click.option("--include-compile-users", is_flag=True,
              help="Also sample the users a --program was compiled on (left out by default: its demos may come "
              "from their sessions).")
@click.option("--num-threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Sessions run in parallel (a local model still generates for one at a time).")
@click.option("--max-turns", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--baseline", default=None,
              help=f"Method the others are tested against (paired, same users). Default: {BASELINE_RULE}.")
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
def eval_command(data: DatasetSpec, **options) -> None:
    """Simulate sessions (paper 5.1.2) and report SR@1/3/5, AT, DSR@5 and HR@n per method (5.1.4, 5.4).

    Every finished session is appended to <out>/transcript.jsonl; the tables come from it, so --resume
    after an interruption reports what an uninterrupted run would.
    """
    settings = EvalSettings(**options)
    with as_cli_errors():
        settings.check()
        checks.writable_folder(settings.out or resolve_artifacts(settings.artifacts_dir),
                               "--out" if settings.out else "--artifacts-dir")
        outcome = EvalRun(settings, data.load(), log=lambda line: click.echo(line, err=True)).run()
    for line, to_stderr in outcome.lines():
        click.echo(line, err=to_stderr)
    if outcome.unfinished:
        echo_next(*([] if settings.resume else ["--resume"]), then="eval",
                  carry=[p.name for p in eval_command.params if p.name != "overwrite"])
    else:
        echo_next(*outcome.first_program())
    failed = outcome.too_many_errors()
    if failed:
        raise click.ClickException(failed)
