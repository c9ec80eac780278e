"""A compile run: what ``afirs-dspy compile`` and the benchmarks start.

``CompileRunSettings`` says what to compile (the names are ``afirs-dspy compile``'s options); ``CompileRun``
checks what it needs before any work, binds its saved work to everything the result depends on
(``<stem>.progress/``, so that a rerun after a crash continues and other settings are refused), compiles
(``compile``) and saves the program with its manifest, elsewhere when ``--out`` cannot be written (``save``).
The command line only parses its options into the settings and prints what the run reports.
"""
from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import dspy

from afirs_dspy.artifacts.context import MissingArtifact, check_artifacts_present, load_context
from afirs_dspy.compiled.manifest import Manifest, artifact_files, files_digest
from afirs_dspy.compiled.program_file import new_manifest, save_program
from afirs_dspy.data import PreparedDataset, PreprocessConfig
from afirs_dspy.evaluation.attribute_simulator import AttributeSimulators
from afirs_dspy.evaluation.provenance import code_digest
from afirs_dspy.evaluation.sampling import sample_cases
from afirs_dspy.lm.backends import LocalEngines
from afirs_dspy.lm.errors import LMUnavailable
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.lm.opening import open_lm
from afirs_dspy.optimize.compiler import CompileReport, CompileSettings, compile_program
from afirs_dspy.optimize.optimizers import OptimizerSettings, OptimizerUnavailable, check_available
from afirs_dspy.optimize.progress import CompileProgress, ProgressMismatch, progress_dir
from afirs_dspy.optimize.tasks import DEFAULT_MODULES
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import build_program
from afirs_dspy.utils.paths import compiled_dir
from afirs_dspy.utils.run_errors import RunError, RunInterrupted


class DatasetRequest(Protocol):
    """The dataset a command names (``cli.options.DatasetSpec``): loaded only once the checks have passed."""

    name: str
    raw_dir: str | None
    config: PreprocessConfig

    def load(self) -> PreparedDataset: ...


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class CompileRunSettings:
    """What to compile; each field is the ``afirs-dspy compile`` option of that name (its --help)."""

    method: str = "afirs"
    optimizer: str = "bootstrap"
    modules: tuple[str, ...] = DEFAULT_MODULES
    n_sessions: int = 4
    budget: int = 24
    max_demos: int = 2
    no_session_eval: bool = False
    max_turns: int = 5
    seed: int = 0
    num_threads: int = 1
    lm_spec: str | None = None
    api_base: str | None = None
    teacher_spec: str | None = None
    reflection_spec: str | None = None
    artifacts_dir: str | None = None
    out: str | None = None
    fresh: bool = False
    no_progress: bool = False

    def default_out(self, dataset_name: str) -> Path:
        """``<artifacts>/<dataset>/compiled/<method>-<optimizer>.json``."""
        return compiled_dir(dataset_name, self.artifacts_dir) / f"{self.method}-{self.optimizer}.json"


@dataclass
class CompileResult:
    """A compiled program not yet saved, with its manifest and the compile's report."""

    program: dspy.Module
    manifest: Manifest
    report: CompileReport
    saved: CompileProgress

    def lines(self) -> list[str]:
        verdict = {True: "improved", False: "did not improve",
                   None: "was not measured (--no-session-eval)"}[self.report.improved]
        return [self.report.render(), f"\ncompiled in {self.report.seconds / 60:.1f} min; the program "
                f"{'changed' if self.report.changed else 'did not change'} and its dev session score {verdict}"]


class CompileRun:
    """One compile of ``settings`` on ``data``, saved at ``out`` (a .json file); ``log`` gets the lines said along
    the way (default: stderr). Creating it checks the artifacts and the optimizer (RunError), before any work."""

    def __init__(self, settings: CompileRunSettings, data: DatasetRequest, out: Path,
                 log: Callable[[str], None] = _to_stderr):
        self.settings, self.data, self.out, self.log = settings, data, out, log
        try:
            check_artifacts_present(data.name, settings.artifacts_dir)
            check_available(settings.optimizer)
        except (MissingArtifact, OptimizerUnavailable) as exc:
            raise RunError(str(exc)) from None

    def compile(self) -> CompileResult:
        """Simulate, compile and score (resuming the saved work); RunError, RunInterrupted or LMSetupError (each one
        line) when it cannot start or go on, while the finished sessions and modules stay saved."""
        s, config = self.settings, AFIRSConfig()
        compile_settings = CompileSettings(
            modules=tuple(s.modules), max_turns=s.max_turns, session_eval=not s.no_session_eval,
            num_threads=s.num_threads,
            optimizer=OptimizerSettings(s.optimizer, s.max_demos, s.budget, s.seed, s.num_threads))
        with LocalEngines() as engines:
            lm = open_lm(s.lm_spec, s.api_base, engines)
            teacher = open_lm(s.teacher_spec, None, engines, "--teacher-lm") if s.teacher_spec else None
            reflection = open_lm(s.reflection_spec, None, engines, "--reflection-lm") if s.reflection_spec else None
            dataset = self.data.load()
            try:
                context = load_context(dataset, s.artifacts_dir)
            except MissingArtifact as exc:
                raise RunError(str(exc)) from None
            program = build_program(s.method, context, config)
            cases = sample_cases(dataset, "valid", s.n_sessions, s.seed)
            users = [case.user for case in cases]
            # What the saved work depends on (not --num-threads or --no-session-eval, which change no result).
            key = {"method": s.method, "config": asdict(config), "data_key": dataset.data_key, "code": code_digest(),
                   **{name: files_digest(paths) for name, paths in artifact_files(dataset.name, s.artifacts_dir).items()},
                   "lm": lm.model, "api_base": s.api_base, "teacher_lm": s.teacher_spec,
                   "reflection_lm": s.reflection_spec, "users": users, "seed": s.seed, "max_turns": s.max_turns,
                   "modules": list(s.modules),
                   "optimizer": {k: v for k, v in asdict(compile_settings.optimizer).items() if k != "num_threads"}}
            try:
                saved = CompileProgress(progress_dir(self.out), key, program, s.fresh)
            except ProgressMismatch as exc:
                raise RunError(str(exc)) from None
            kept = (f"the sessions and modules finished so far are saved in {saved.folder}: run the same command "
                    "to continue (--fresh starts over)")
            try:
                with lm_failures_explained(*(m for m in (lm, teacher, reflection) if m is not None)):
                    report = compile_program(program, context.tree, context.catalog, AttributeSimulators(context, s.seed),
                                             cases, lm, compile_settings, teacher, reflection,
                                             progress=not s.no_progress, log=self.log, saved=saved)
            except KeyboardInterrupt:
                raise RunInterrupted(f"interrupted; {kept}") from None
            except LMUnavailable as exc:
                raise RunError(f"{exc}\n{kept[0].upper()}{kept[1:]}") from None
            except Exception:
                self.log(f"{kept[0].upper()}{kept[1:]}")
                raise
        manifest = new_manifest(
            s.method, config, context, self.data.raw_dir, self.data.config, s.artifacts_dir, s.lm_spec, s.api_base,
            optimizer={"name": s.optimizer, "modules": list(s.modules), "n_sessions": s.n_sessions, "budget": s.budget,
                       "users": users,  # eval leaves them out of its samples
                       "max_demos": s.max_demos, "seed": s.seed, "teacher_lm": s.teacher_spec,
                       "reflection_lm": s.reflection_spec},
            scores=report.to_dict(),
        )
        return CompileResult(program, manifest, report, saved)

    def save(self, compiled: CompileResult) -> tuple[Path, Path]:
        """Save the program and its manifest at ``out`` and drop the saved work; when ``out`` cannot be written,
        save them elsewhere and raise RunError saying where (the saved work stays for a rerun that only saves)."""
        try:
            paths = save_program(compiled.program, self.out, compiled.manifest)
        except (OSError, ValueError) as exc:
            fallbacks = [compiled_dir(self.data.name, self.settings.artifacts_dir) / f"{self.out.stem}.recovered.json",
                         Path(tempfile.gettempdir()) / f"afirs-dspy-{self.out.stem}.json"]
            recovered = _save_elsewhere(compiled.program, compiled.manifest, fallbacks)
            where = f"saved it to {recovered} (manifest beside it) instead" if recovered else "could not save it elsewhere"
            raise RunError(
                f"could not save the program to {self.out} ({exc}); {where}. The finished work stays in "
                f"{compiled.saved.folder}: fix the cause and rerun the same command to save it there") from None
        compiled.saved.remove()
        return paths


def _save_elsewhere(program: dspy.Module, manifest: Manifest, paths: list[Path]) -> Path | None:
    """The first of ``paths`` the program and its manifest could be saved to, or None."""
    for path in paths:
        try:
            return save_program(program, path, manifest)[0]
        except (OSError, ValueError):
            continue
    return None
