"""Metrics for compiling: one per module (score and textual feedback, for GEPA) and one per session.

Per module (against the labels of ``examples``): node selection F1 against the nodes leading to the
target; decision correctness as DSR counts it; reciprocal rank of the target after refinement.
Per session: success with a turn penalty, (max_turns + 1 - t) / max_turns for success at turn t,
0 for a failure — it rewards what SR and AT reward.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import dspy

from afirs_dspy.evaluation.records import SessionRecord

Score = Callable[[dspy.Example, dspy.Prediction], tuple[float, str]]


def _shown(example: dspy.Example, field: str, numbers: Sequence[int]) -> str:
    lines = getattr(example, field)
    return "; ".join(lines[n - 1] for n in numbers if 1 <= n <= len(lines)) or "none"


def node_selection_score(example: dspy.Example, prediction: dspy.Prediction) -> tuple[float, str]:
    gold, picks = set(example.selected), list(dict.fromkeys(prediction.selected))
    hits = len(gold & set(picks))
    precision, recall = (hits / len(picks) if picks else 0.0), hits / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    feedback = (f"Selected {picks} ({_shown(example, 'nodes', picks)}). The item the user wants lies under "
                f"{sorted(gold)} ({_shown(example, 'nodes', sorted(gold))}): precision {precision:.2f}, "
                f"recall {recall:.2f}. Pick the nodes the user's words point to, most relevant first.")
    return f1, feedback


def decision_score(example: dspy.Example, prediction: dspy.Prediction) -> tuple[float, str]:
    right = prediction.action == example.action
    where = "is" if example.action == "recommend" else "is not"
    feedback = (f"Answered {prediction.action!r}; the item the user wants {where} among the items shown, so the "
                f"right action was {example.action!r}. Recommend only when the items fit every stated preference.")
    return float(right), feedback


def refinement_score(example: dspy.Example, prediction: dspy.Prediction) -> tuple[float, str]:
    target = example.selected[0]
    picks = list(dict.fromkeys(prediction.selected))[: example.k]
    rank = picks.index(target) + 1 if target in picks else None
    feedback = (f"The item the user wants is candidate {target} ({_shown(example, 'candidates', [target])}); "
                + (f"it was ranked {rank}." if rank else f"it was not among the {len(picks)} selected.")
                + " Rank candidates matching all the user's likes and constraints first.")
    return (1.0 / rank if rank else 0.0), feedback


def as_metric(score: Score, feedback: bool = False):
    """A DSPy metric from ``score``: a float, or ``dspy.Prediction(score, feedback)`` for GEPA."""
    def metric(example, prediction, trace=None, pred_name=None, pred_trace=None):
        value, text = score(example, prediction)
        return dspy.Prediction(score=value, feedback=text) if feedback else value

    return metric


def session_score(record: SessionRecord, max_turns: int) -> float:
    turn = record.success_turn
    return (max_turns + 1 - turn) / max_turns if turn else 0.0
