"""An evaluation run: what ``afirs-dspy eval``, the benchmarks and the evidence runs start.

``EvalSettings`` says what to run (the names are ``afirs-dspy eval``'s options); ``EvalRun`` builds the programs
and simulators they name, binds the run folder to them (``run.json``, so that ``--resume`` only continues the
very same run), runs the sessions user by user and writes the result files; ``EvalOutcome`` is what it reports.
The command line only parses its options into the settings and prints the outcome.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import dspy

from afirs_dspy.artifacts.context import MissingArtifact, ProgramContext, load_context
from afirs_dspy.compiled.manifest import Manifest, ManifestMismatch, artifact_files, files_digest
from afirs_dspy.compiled.program_file import restore_program
from afirs_dspy.data import PreparedDataset
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.llm_simulator import LLMSimulators
from afirs_dspy.evaluation.provenance import code_provenance, simulator_settings
from afirs_dspy.evaluation.report import render_markdown, write_reports
from afirs_dspy.evaluation.run_config import RUN_FILE, RunMismatch, check_resumable, write_run_config
from afirs_dspy.evaluation.runner import Runner, TooManyErrors, complete_users, plan_jobs
from afirs_dspy.evaluation.sampling import POOLS, Shard, default_pool, sample_cases
from afirs_dspy.evaluation.simulator_base import SessionCase
from afirs_dspy.evaluation.summary import BASELINE_RULE, best_baseline, build_summary
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.lm.opening import open_lm
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import METHODS, build_program
from afirs_dspy.utils.paths import eval_dir
from afirs_dspy.utils.run_errors import RunError, RunInterrupted, SettingsError

RESULT_FILES = (TRANSCRIPT, RUN_FILE, "results.md", "results.csv", "results.json", "sr_curve.png")
# A program that is not a registered method (a benchmark's arm): built from the context and the run's sizes.
ProgramBuilder = Callable[[ProgramContext, AFIRSConfig], dspy.Module]


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class EvalSettings:
    """What a run is asked to do; each field is the ``afirs-dspy eval`` option of that name (its --help)."""

    methods: tuple[str, ...] | None = None  # None: afirs, unless program_paths are given
    program_paths: tuple[str, ...] = ()
    simulator: str = "attribute"
    n_sessions: int = 3
    split: str = "test"
    users: str | None = None  # a pool of sampling.POOLS; None: the split's default
    shard: str | None = None  # "K/N"
    seed: int = 0
    include_compile_users: bool = False
    num_threads: int = 2
    max_turns: int = 5
    baseline: str | None = None
    lm_spec: str | None = None
    api_base: str | None = None
    sim_lm_spec: str | None = None
    sim_api_base: str | None = None
    n_candidates: int = AFIRSConfig.n_candidates
    n_recommend: int = AFIRSConfig.n_recommend
    artifacts_dir: str | None = None
    out: str | None = None
    time_limit: float | None = None  # minutes
    resume: bool = False
    overwrite: bool = False
    max_errors: int = 10
    max_error_share: float = 0.5
    no_progress: bool = False

    @property
    def compiled(self) -> dict[str, Path]:
        """Compiled programs by the name their rows get: the file's stem."""
        return {Path(path).stem: Path(path) for path in self.program_paths}

    @property
    def method_names(self) -> list[str]:
        named = self.methods if self.methods is not None else ([] if self.program_paths else ["afirs"])
        return [*named, *self.compiled]

    @property
    def pool(self) -> str:
        return self.users or default_pool(self.split)

    @property
    def user_shard(self) -> Shard | None:
        return Shard.parse(self.shard) if self.shard else None

    def check(self, builders: Collection[str] = ()) -> None:
        """SettingsError unless the settings fit together (``builders``: the names of a run's own programs);
        nothing is loaded or written."""
        if self.resume and self.overwrite:
            raise SettingsError("--resume and --overwrite exclude each other")
        clash = set(self.compiled) & (set(METHODS) | set(builders))
        if clash:
            raise SettingsError(f"rename {', '.join(clash)}: a compiled program may not be named like a method",
                                "--program")
        if self.baseline is not None and self.baseline not in self.method_names:
            raise SettingsError(f"{self.baseline!r} is not among --method {','.join(self.method_names)}", "--baseline")
        if self.pool not in POOLS or (self.pool != "all" and self.split != "test"):
            raise SettingsError(f"{self.pool} is not a pool of the {self.split} split: the development and evidence "
                                "users are parts of the test split (--users all for another split)", "--users")
        try:
            self.user_shard
        except ValueError as exc:
            raise SettingsError(str(exc), "--shard") from None

    def folder(self, dataset_name: str) -> Path:
        """--out, else ``<artifacts>/<dataset>/eval/<methods>-<simulator>-<split>-n<N>-seed<S>`` (with the pool
        when it is not the split's default, and the shard)."""
        if self.out:
            return Path(self.out)
        name = f"{'+'.join(self.method_names)}-{self.simulator}-{self.split}-n{self.n_sessions or 'all'}-seed{self.seed}"
        if self.pool != default_pool(self.split):
            name += f"-{self.pool}"
        if self.user_shard:
            name += f"-shard{self.user_shard.index}of{self.user_shard.count}"
        return eval_dir(dataset_name, self.artifacts_dir) / name


def _compile_users(manifest: Manifest) -> list[str]:
    """The users a program was compiled on (manifests before they were listed: its train and dev users)."""
    return manifest.optimizer.get("users") or [*manifest.scores.get("train_users", []),
                                               *manifest.scores.get("dev_users", [])]


@dataclass
class EvalOutcome:
    """What a finished (or time-limited) run reports."""

    settings: EvalSettings
    folder: Path
    title: str
    summary: dict
    paths: dict[str, Path]
    jobs: int      # sessions planned
    already: int   # taken from the transcript
    left: int      # not run (time limit)
    users: int     # users every method finished
    elapsed: float

    @property
    def ran(self) -> int:
        return self.jobs - self.left - self.already

    @property
    def errored(self) -> int:
        return sum(row["errors"] for row in self.summary["rows"])

    @property
    def unfinished(self) -> bool:
        """Sessions are left to run or to retry: ``--resume`` continues."""
        return bool(self.left or self.errored)

    def lines(self) -> list[tuple[str, bool]]:
        """What to print, each with whether it goes to stderr."""
        out = []
        if self.left:
            out.append((f"time limit reached: {self.left} sessions not run (--resume continues); the tables cover the "
                        f"{self.users} users every method finished", True))
        out.append((render_markdown(self.summary, self.title), False))
        out.append((f"{self.ran} sessions run in {self.elapsed:.1f} s ({self.elapsed / max(self.ran, 1):.1f} s per "
                    "session)" + (f"; {self.already} taken from the transcript" if self.already else ""), False))
        if self.errored:
            out.append((f"{self.errored} sessions errored (counted as failures; --resume retries them); "
                        f"see status/error in {self.folder / TRANSCRIPT}", True))
        out.append((f"results in {self.folder}: {', '.join(p.name for p in self.paths.values())}, {TRANSCRIPT}", False))
        return out

    def too_many_errors(self) -> str | None:
        """Why the tables do not measure the methods, when more than --max-error-share of the sessions errored."""
        finished = sum(row["sessions"] for row in self.summary["rows"])
        share = self.settings.max_error_share
        if self.errored > share * finished:
            return (f"{self.errored} of {finished} sessions errored, more than --max-error-share {share:g}: the tables "
                    "do not measure the method(s)")
        return None

    def first_program(self) -> list[str]:
        """The first row's program as options: ``--program PATH`` or ``--method NAME``."""
        first = self.settings.method_names[0]
        compiled = self.settings.compiled
        return ["--program", str(compiled[first])] if first in compiled else ["--method", first]


class EvalRun:
    """One evaluation run of ``settings`` on ``dataset``; ``builders`` adds programs that are not registered
    methods (named in ``settings.methods``); ``log`` gets the lines said along the way (default: stderr)."""

    def __init__(self, settings: EvalSettings, dataset: PreparedDataset,
                 builders: Mapping[str, ProgramBuilder] | None = None, log: Callable[[str], None] = _to_stderr):
        self.builders = dict(builders or {})
        settings.check(self.builders)
        self.settings, self.dataset, self.log = settings, dataset, log

    def cases(self, excluded: set[str]) -> list[SessionCase]:
        s = self.settings
        cases = sample_cases(self.dataset, s.split, s.n_sessions, s.seed, exclude=excluded, users=s.pool)
        return s.user_shard.of(cases) if s.user_shard else cases

    def run(self) -> EvalOutcome:
        """Run what the run folder lacks and write the tables. RunError, RunInterrupted or LMSetupError (each one
        line) when it cannot start or go on; the finished sessions are kept in the transcript."""
        s = self.settings
        try:
            context = load_context(self.dataset, s.artifacts_dir)
        except MissingArtifact as exc:
            raise RunError(str(exc)) from None
        with LocalEngines() as engines:
            program_lm, sim_lm, sim_base = self._open_lms(engines)
            programs, excluded = self._programs(context)
            simulators = (AttributeSimulators(context, s.seed) if s.simulator == "attribute"
                          else LLMSimulators(context, sim_lm))
            folder = s.folder(self.dataset.name)
            runner = Runner(programs, simulators, Transcript(folder / TRANSCRIPT), program_lm, context.catalog.titles,
                            s.max_turns, s.num_threads, s.max_errors, progress=not s.no_progress,
                            time_limit=None if s.time_limit is None else 60 * s.time_limit)
            config = {
                "dataset": self.dataset.name, "dataset_key": self.dataset.data_key, "methods": s.method_names,
                "simulator": s.simulator, "split": s.split, "users": s.pool, "shard": s.shard, "seed": s.seed,
                "n_sessions": s.n_sessions, "max_turns": s.max_turns, "n_candidates": s.n_candidates,
                "n_recommend": s.n_recommend, "lm": program_lm.model, "api_base": s.api_base,
                "sim_lm": sim_lm.model if sim_lm else None, "sim_api_base": sim_base,
                **{name: files_digest(paths)[:16]
                   for name, paths in artifact_files(self.dataset.name, s.artifacts_dir).items()},
                "programs": {name: files_digest([path])[:16] for name, path in s.compiled.items()},
                **code_provenance(), "program_hashes": runner.program_hashes,
                "simulator_settings": simulator_settings(simulators), "excluded_users": sorted(excluded),
            }
            self._prepare(folder, config)
            jobs = plan_jobs(s.method_names, self.cases(excluded))
            already = len(jobs) - len(runner.pending(jobs))
            started = time.perf_counter()
            try:
                by_method = runner.run(jobs)
            except KeyboardInterrupt:
                raise RunInterrupted(f"interrupted; finished sessions are in {folder / TRANSCRIPT}: run the same "
                                     "command with --resume to continue") from None
            except TooManyErrors as exc:
                raise RunError(f"stopped: {exc}\nFinished sessions are in {folder / TRANSCRIPT}; fix the cause and "
                               "run the same command with --resume") from None
            elapsed = time.perf_counter() - started
        return self._outcome(by_method, config, folder, len(jobs), already, elapsed)

    def _open_lms(self, engines: LocalEngines) -> tuple[dspy.LM, dspy.LM | None, str | None]:
        """The program's LM, and the simulator's LM and server (the LLM simulator only)."""
        s = self.settings
        program_lm = open_lm(s.lm_spec, s.api_base, engines)
        if s.simulator != "llm":
            if s.sim_lm_spec:
                self.log("--sim-lm is only used by --simulator llm; ignored")
            return program_lm, None, None
        sim_base = s.sim_api_base or (None if s.sim_lm_spec else s.api_base)
        return program_lm, open_lm(s.sim_lm_spec or s.lm_spec, sim_base, engines, "--sim-lm"), sim_base

    def _programs(self, context: ProgramContext) -> tuple[dict[str, dspy.Module], set[str]]:
        """Every row's program, and the users to leave out of the sample (those a compiled program was tuned on)."""
        s = self.settings
        sizes = AFIRSConfig(n_candidates=s.n_candidates, n_recommend=s.n_recommend)
        programs = {method: (self.builders[method](context, sizes) if method in self.builders
                             else build_program(method, context, sizes))
                    for method in s.method_names if method not in s.compiled}
        excluded: set[str] = set()
        for name, path in s.compiled.items():
            try:
                programs[name], manifest = restore_program(path, context, s.artifacts_dir)
            except ManifestMismatch as exc:
                raise RunError(str(exc)) from None
            if not s.include_compile_users:
                excluded |= set(_compile_users(manifest))
        return programs, excluded

    def _prepare(self, folder: Path, config: dict) -> None:
        """Bind ``folder`` to ``config``: a new run, the same run resumed, or an old run deleted (--overwrite)."""
        s = self.settings
        if (folder / RUN_FILE).exists() or (folder / TRANSCRIPT).exists():
            if s.overwrite:
                for name in RESULT_FILES:
                    (folder / name).unlink(missing_ok=True)
            elif s.resume:
                try:
                    check_resumable(folder, config)
                except RunMismatch as exc:
                    raise RunError(str(exc)) from None
            else:
                raise RunError(f"{folder} already holds a run; --resume continues it, --overwrite starts it over, "
                               "--out puts this one elsewhere")
        elif s.resume:
            self.log(f"nothing to resume in {folder}; starting a new run")
        write_run_config(folder, config)

    def _outcome(self, by_method: dict, config: dict, folder: Path, jobs: int, already: int,
                 elapsed: float) -> EvalOutcome:
        s, methods = self.settings, self.settings.method_names
        left = jobs - sum(map(len, by_method.values()))
        if left:
            by_method = complete_users(by_method)
        baseline, rule = ((s.baseline, None) if s.baseline
                          else (best_baseline(by_method, methods[1:], s.max_turns), BASELINE_RULE))
        summary = build_summary(by_method, methods, s.max_turns, s.n_candidates, baseline, s.seed, rule)
        shard = f", shard {s.shard}" if s.shard else ""
        title = f"{self.dataset.name} ({s.split}, {s.pool} users{shard}), {s.simulator} simulator, seed {s.seed}"
        paths = write_reports(summary, config, folder, title)
        users = len(next(iter(by_method.values()), []))
        return EvalOutcome(s, folder, title, summary, paths, jobs, already, left, users, elapsed)
