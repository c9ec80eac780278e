"""Per-module training examples from recorded validation sessions.

Each recorded call of a predictor (its exact inputs, from DSPy's trace) becomes a ``dspy.Example``
whose output fields hold the gold answer for the session's target: the shown tree nodes that lead
to the target (node selection), the target's number among the candidates (refinement), and
"recommend" exactly when the target is among the items shown (the decision, as DSR counts it).
Calls whose gold answer does not exist (the target under none of the shown nodes, or not among
the candidates) teach nothing and are skipped.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dspy

from afirs_dspy.optimize.gold import TargetGold


def _entry(line: str) -> str:
    """'3. Genre > Comedy' → 'Genre > Comedy' (only the leading number is split off)."""
    return line.split(". ", 1)[1] if ". " in line else line


def select_label(inputs: dict, gold: TargetGold) -> dict | None:
    picks = [n for n, line in enumerate(inputs["nodes"], start=1) if _entry(line) in gold.paths]
    return {"selected": picks} if picks else None


def refine_label(inputs: dict, gold: TargetGold) -> dict | None:
    number = next((n for n, line in enumerate(inputs["candidates"], start=1) if _entry(line) == gold.line), None)
    return {"selected": [number]} if number else None


def decide_label(inputs: dict, gold: TargetGold) -> dict | None:
    return {"action": "recommend" if gold.line in inputs["items"] else "ask"}


Label = Callable[[dict, TargetGold], "dict | None"]


@dataclass(frozen=True)
class Call:
    """One recorded predictor call of a session about ``target``."""

    predictor: str
    inputs: dict
    target: int


def build_examples(calls: Iterable[Call], predictor: str, label: Label,
                   gold: Callable[[int], TargetGold]) -> list[dspy.Example]:
    """Examples for ``predictor``'s calls, labelled for their target; repeated inputs kept once."""
    examples, seen = [], set()
    for call in calls:
        if call.predictor != predictor:
            continue
        key = repr(sorted(call.inputs.items()))
        if key in seen:
            continue
        outputs = label(call.inputs, gold(call.target))
        if outputs is None:
            continue
        seen.add(key)
        examples.append(dspy.Example(**call.inputs, **outputs).with_inputs(*call.inputs))
    return examples
