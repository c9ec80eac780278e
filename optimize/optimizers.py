"""The DSPy optimizers ``afirs-dspy compile --optimizer`` offers, each bounded by the same budget.

``budget`` is the most metric calls (one predictor call each) an optimizer may spend on one module
beyond bootstrapping: GEPA's ``max_metric_calls``, random search's candidate programs (budget divided
by the dev-set size). MIPROv2's auto modes set their own trial counts (light ≈ 6-7 trials).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import dspy

from afirs_dspy.optimize.metrics import Score, as_metric

OPTIMIZERS = ("bootstrap", "bootstrap-rs", "mipro-light", "mipro-medium", "mipro-heavy", "gepa")


class OptimizerUnavailable(RuntimeError):
    """The optimizer needs a package that is not installed; the message says which."""


@dataclass(frozen=True)
class OptimizerSettings:
    name: str = "bootstrap"
    max_demos: int = 2     # bootstrapped and labelled few-shot demos per predictor
    budget: int = 24       # metric calls per module (see the module docstring)
    seed: int = 0
    num_threads: int = 1

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.name!r}; known: {', '.join(OPTIMIZERS)}")


def check_available(name: str) -> None:
    """OptimizerUnavailable when optimizer ``name`` needs a package that is not installed."""
    if name.startswith("mipro-") and importlib.util.find_spec("optuna") is None:
        raise OptimizerUnavailable('MIPROv2 searches with Optuna, which is not installed: pip install -e ".[mipro]" '
                                   "(or pip install optuna)")


def optimize_module(settings: OptimizerSettings, student: dspy.Module, trainset: list[dspy.Example],
                    devset: list[dspy.Example], score: Score, teacher_lm: dspy.LM | None = None,
                    reflection_lm: dspy.LM | None = None) -> dspy.Module:
    """``student`` compiled on ``trainset`` (``devset`` guides the searching optimizers)."""
    demos = {"max_bootstrapped_demos": settings.max_demos, "max_labeled_demos": settings.max_demos}
    teacher = {"teacher_settings": {"lm": teacher_lm}} if teacher_lm is not None else {}
    metric = as_metric(score)
    name = settings.name
    if name == "bootstrap":
        return dspy.BootstrapFewShot(metric=metric, **demos, **teacher).compile(student, trainset=trainset)
    if name == "bootstrap-rs":
        # Random search also scores three fixed seeds (zero-shot, labelled only, unshuffled).
        candidates = max(1, settings.budget // max(len(devset), 1) - 3)
        optimizer = dspy.BootstrapFewShotWithRandomSearch(metric=metric, num_candidate_programs=candidates,
                                                          num_threads=settings.num_threads, **demos, **teacher)
        return optimizer.compile(student, trainset=trainset, valset=devset)
    if name.startswith("mipro-"):
        check_available(name)
        optimizer = dspy.MIPROv2(metric=metric, prompt_model=teacher_lm, auto=name.removeprefix("mipro-"),
                                 num_threads=settings.num_threads, seed=settings.seed, verbose=False, **demos,
                                 **teacher)
        return optimizer.compile(student, trainset=trainset, valset=devset)
    optimizer = dspy.GEPA(metric=as_metric(score, feedback=True), max_metric_calls=settings.budget,
                          reflection_lm=reflection_lm or teacher_lm or dspy.settings.lm,
                          num_threads=settings.num_threads, seed=settings.seed, track_stats=False)
    return optimizer.compile(student, trainset=trainset, valset=devset)
