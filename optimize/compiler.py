"""Compile the AF-IRS program on validation sessions (never test targets).

1. Simulate ``n_sessions`` validation users with the program as it is, recording every predictor call
   (``recording``). The first half of the users gives the training examples, the second half the dev
   examples and the sessions the end-to-end score is measured on.
2. For each module, label the recorded calls against the session's target (``examples``), score the
   predictor as it is on the dev examples, compile a copy with the optimizer, score it again, and put
   the compiled state (demos, instructions) into the program.
3. Simulate the dev users again with the compiled program: the session score before and after.
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.evaluation.metrics import average_turns, success_rate
from afirs_dspy.evaluation.simulator_base import SessionCase, UserSimulator
from afirs_dspy.optimize.examples import build_examples
from afirs_dspy.optimize.gold import TargetGold
from afirs_dspy.optimize.metrics import as_metric, session_score
from afirs_dspy.optimize.optimizers import OptimizerSettings, optimize_module
from afirs_dspy.optimize.progress import CompileProgress
from afirs_dspy.optimize.recording import RecordedSession, record_sessions
from afirs_dspy.optimize.tasks import DEFAULT_MODULES, TASKS, ModuleTask
from afirs_dspy.domain.preference_tree import PreferenceTree


@dataclass(frozen=True)
class CompileSettings:
    modules: tuple[str, ...] = DEFAULT_MODULES
    max_turns: int = 5
    session_eval: bool = True  # simulate the dev users again after compiling
    num_threads: int = 1
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)

    def __post_init__(self):
        unknown = [m for m in self.modules if m not in TASKS]
        if unknown or not self.modules:
            raise ValueError(f"unknown module(s) {', '.join(unknown) or '(none)'}; known: {', '.join(TASKS)}")


@dataclass
class ModuleResult:
    name: str
    predictor: str
    n_train: int
    n_dev: int
    before: float | None = None   # mean metric on the dev examples
    after: float | None = None
    changed: bool = False         # demos or instructions differ from the program's (and were kept)
    demos: int = 0
    skipped: str = ""             # why the module was not compiled
    kept: bool = True             # False: the compiled state scored below the uncompiled one on dev, and was dropped


@dataclass
class SessionScores:
    score: float   # mean session score (success with a turn penalty)
    sr5: float
    at: float
    sessions: int

    @classmethod
    def of(cls, sessions: Sequence[RecordedSession], max_turns: int) -> SessionScores:
        records = [s.record for s in sessions]
        return cls(sum(session_score(r, max_turns) for r in records) / len(records),
                   success_rate(records, 5), average_turns(records, max_turns), len(records))


@dataclass
class CompileReport:
    modules: list[ModuleResult]
    train_users: list[str]
    dev_users: list[str]
    before: SessionScores | None = None
    after: SessionScores | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(m.changed for m in self.modules)

    @property
    def improved(self) -> bool | None:
        """Whether the dev session score rose (None when it was not measured)."""
        return None if self.after is None else self.after.score > self.before.score

    def to_dict(self) -> dict:
        return {**asdict(self), "changed": self.changed, "improved": self.improved}

    def render(self) -> str:
        """Markdown: per-module dev metric and the session-level scores, before → after."""
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        lines = ["| module | train | dev | dev metric before | after | changed | demos |",
                 "| --- | ---: | ---: | ---: | ---: | --- | ---: |"]
        for m in self.modules:
            tail = (f"skipped: {m.skipped}" if m.skipped else "no: kept uncompiled, the dev metric fell" if not m.kept
                    else "yes" if m.changed else "no")
            lines.append(f"| {m.name} | {m.n_train} | {m.n_dev} | {fmt(m.before)} | {fmt(m.after)} | {tail} | {m.demos} |")
        if self.before is not None:
            lines += ["", "| dev sessions | score | SR@5 | AT | sessions |", "| --- | ---: | ---: | ---: | ---: |"]
            for label, s in (("before", self.before), ("after", self.after)):
                if s is not None:
                    lines.append(f"| {label} | {s.score:.3f} | {s.sr5:.2f} | {s.at:.2f} | {s.sessions} |")
        return "\n".join(lines)


def _evaluate(student: dspy.Module, devset: list[dspy.Example], task: ModuleTask, num_threads: int,
              progress: bool) -> float:
    evaluate = dspy.Evaluate(devset=devset, metric=as_metric(task.score), num_threads=num_threads,
                             display_progress=progress, max_errors=len(devset) + 1)
    return evaluate(student).score / 100


def _compile_module(task: ModuleTask, predictors: dict, train: Sequence[RecordedSession],
                    dev: Sequence[RecordedSession], gold: Callable, settings: CompileSettings,
                    teacher_lm: dspy.LM | None, reflection_lm: dspy.LM | None,
                    log: Callable[[str], None], progress: bool) -> tuple[ModuleResult, dict | None]:
    """The module's dev metric before and after compiling, and its compiled state (None when skipped)."""
    trainset = build_examples((c for s in train for c in s.calls), task.predictor, task.label, gold)
    devset = build_examples((c for s in dev for c in s.calls), task.predictor, task.label, gold)
    result = ModuleResult(task.name, task.predictor, len(trainset), len(devset))
    if task.predictor not in predictors:
        result.skipped = "this method has no such predictor"
        return result, None
    if not trainset or not devset:
        result.skipped = "no labelled calls in the train or dev sessions"
        return result, None
    log(f"compiling {task.name} ({task.description}): {len(trainset)} train / {len(devset)} dev examples")
    original = predictors[task.predictor]
    result.before = _evaluate(original.deepcopy(), devset, task, settings.num_threads, progress)
    compiled = optimize_module(settings.optimizer, original.deepcopy(), trainset, devset, task.score,
                               teacher_lm, reflection_lm)
    result.after = _evaluate(compiled, devset, task, settings.num_threads, progress)
    if result.after < result.before:
        # A compiled module that does worse on dev than the uncompiled one is not put into the program.
        result.kept = False
        log(f"{task.name}: dev metric {result.before:.3f} → {result.after:.3f}: kept uncompiled")
        return result, None
    state = compiled.dump_state()
    result.changed = state != original.dump_state()
    result.demos = len(state.get("demos", []))
    return result, state


def compile_program(program: dspy.Module, tree: PreferenceTree, catalog: Catalog,
                    simulators: Callable[[SessionCase], UserSimulator], cases: Sequence[SessionCase],
                    lm: dspy.LM, settings: CompileSettings = CompileSettings(), teacher_lm: dspy.LM | None = None,
                    reflection_lm: dspy.LM | None = None, progress: bool = True,
                    log: Callable[[str], None] = print, saved: CompileProgress | None = None) -> CompileReport:
    """Compile ``program`` in place on validation ``cases`` (see the module docstring) and report.

    With ``saved``, every session and compiled module is saved as it finishes, and what it already holds
    is taken from it instead of being run again.
    """
    if len(cases) < 2:
        raise ValueError("compiling needs at least 2 validation sessions (half train, half dev)")
    started = time.perf_counter()
    split = len(cases) // 2

    def run(which: Sequence[SessionCase], stage: str, doing: str) -> list[RecordedSession]:
        done = saved.sessions(stage) if saved is not None else {}
        reused = sum(case in done for case in which)
        saved_note = f" ({reused} of {len(which)} already saved in {saved.folder})" if reused else ""
        log(f"simulating {len(which)} {doing}{saved_note}")
        return record_sessions(program, simulators, which, lm, settings.max_turns, settings.num_threads,
                               stage, progress, done,
                               functools.partial(saved.add_session, stage) if saved is not None else None)

    recorded = run(cases, "recorded", "validation sessions with the program as it is")
    train, dev = recorded[:split], recorded[split:]
    gold = functools.cache(lambda target: TargetGold(tree, catalog, target))
    predictors = dict(program.named_predictors())
    report = CompileReport([], [s.case.user for s in train], [s.case.user for s in dev])
    with dspy.context(lm=lm):
        for name in settings.modules:
            done = saved.module(name) if saved is not None else None
            if done is not None:
                result, state = ModuleResult(**done["result"]), done["state"]
                log(f"{name}: compiled state taken from {saved.folder}")
            else:
                result, state = _compile_module(TASKS[name], predictors, train, dev, gold, settings, teacher_lm,
                                                reflection_lm, log, progress)
                if saved is not None:
                    saved.save_module(name, asdict(result), state)
            report.modules.append(result)
            if state is not None:
                predictors[result.predictor].load_state(state)
    if settings.session_eval:
        report.before = SessionScores.of(dev, settings.max_turns)
        report.after = SessionScores.of(run([s.case for s in dev], "reevaluated",
                                            "dev sessions again with the compiled program"), settings.max_turns)
    report.seconds = time.perf_counter() - started
    return report
