"""The modules ``afirs-dspy compile`` can tune: which predictor, how its examples are labelled, how it is scored."""
from __future__ import annotations

from dataclasses import dataclass

from afirs_dspy.optimize.examples import Label, decide_label, refine_label, select_label
from afirs_dspy.optimize.metrics import Score, decision_score, node_selection_score, refinement_score


@dataclass(frozen=True)
class ModuleTask:
    name: str
    predictor: str  # the predictor's name in the AF-IRS program (``named_predictors()``)
    label: Label
    score: Score
    description: str


TASKS = {
    task.name: task for task in (
        ModuleTask("confirm", "action_stage.extractor.confirm", select_label, node_selection_score,
                   "confirmation of the proposed attributes (F1 against those leading to the target)"),
        ModuleTask("select", "action_stage.extractor.select", select_label, node_selection_score,
                   "per-level tree node selection, extraction \"levelwise\" (F1 against the nodes leading to the target)"),
        ModuleTask("decide", "decision_stage.decide", decide_label, decision_score,
                   "recommend-or-ask decision (correct as DSR counts it)"),
        ModuleTask("refine", "action_stage.refine", refine_label, refinement_score,
                   "refinement of the candidates (reciprocal rank of the target)"),
    )
}
DEFAULT_MODULES = ("confirm", "decide")  # refinement prompts are long (50 items): slow on a local CPU model
