"""``TurnRecorder``: the stages of a turn as they finish, heard through DSPy's callbacks.

Set with ``dspy.context(callbacks=[…])`` (``recorder.watching()`` does it and tracks tokens), it sees the session
memory, the preference extractor, the recommender tool and every predictor of the program (named as in
``program.named_predictors()``) finish, with their seconds, LM calls, tokens and what they produced;
``on_stage`` hears of each one as it happens (chat's lines, serve's progress). ``explanation.explain_turn``
joins them with the turn's Prediction.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.domain.session import years_text
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.programs.session_memory import SessionMemory
from afirs_dspy.recsys.tool import ATTRIBUTE_FILTER, Recommendation, RecsysTool
from afirs_dspy.signatures import (
    AskQuestion, ConfirmPreferences, DecideAction, DecideFromConversation, DecideFromEvidence, RefineCandidates,
    RerankShortlist, SelectNodes, SummarizePreferences, WriteResponse,
)

# What a stage is doing while it runs: the program's own parts by type, its predictors by their signature.
PART_ACTIVITIES = {SessionMemory: "reading the conversation", SessionPreferenceExtractor: "extracting preferences",
                   RecsysTool: "ranking candidates"}
PART_NAMES = {SessionMemory: "memory", SessionPreferenceExtractor: "extract", RecsysTool: "tool"}
SIGNATURE_ACTIVITIES = {
    SelectNodes: "extracting preferences", ConfirmPreferences: "extracting preferences",
    SummarizePreferences: "summarising preferences", RefineCandidates: "refining candidates",
    RerankShortlist: "refining candidates", DecideFromEvidence: "deciding", DecideAction: "deciding",
    DecideFromConversation: "deciding", AskQuestion: "writing a question", WriteResponse: "writing the reply",
}
ACTIVITIES = {signature.__name__: text for signature, text in SIGNATURE_ACTIVITIES.items()}
EXTRACTOR_CALLS = ("select", "confirm")  # the extractor's own LM calls: the options each was shown
# How the tool's ranking stages read.
TOOL_STAGES = {"preferences": "with every preference", "partial": "with some", "sasrec": "by SASRec alone",
               "attribute-filter": "through the attribute filter"}


def tool_stage_label(stage: str) -> str:
    return TOOL_STAGES.get(stage, "with a preference relaxed")


@dataclass
class Stage:
    """One finished stage of a turn. ``name``: "extract", "tool" or the predictor's attribute name; ``line``: the
    sentence chat prints for it (None for the calls that get none, such as the extractor's per-level picks);
    ``detail``: what it produced, JSON-able; ``nested``: it ran inside another recorded stage."""

    name: str
    activity: str
    line: str | None
    seconds: float
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    detail: dict = field(default_factory=dict)
    error: str | None = None
    nested: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Call:
    name: str
    instance: Any
    inputs: dict
    tokens: tuple[int, int]
    started: float = field(default_factory=time.perf_counter)
    lm_calls: int = 0


def _tokens() -> tuple[int, int]:
    """Prompt and completion tokens the current usage tracker has seen so far (0, 0 without one)."""
    tracker = dspy.settings.usage_tracker
    if tracker is None:
        return 0, 0
    entries = [e for lm_entries in tracker.usage_data.values() for e in lm_entries]
    return (sum(int(e.get("prompt_tokens") or 0) for e in entries),
            sum(int(e.get("completion_tokens") or 0) for e in entries))


class TurnRecorder(BaseCallback):
    """Records the stages of ``program``'s turns as they finish (``stages``); calls ``on_stage(stage)`` for each.

    ``reset()`` before a turn; ``running()`` names the stage running now and its seconds so far."""

    def __init__(self, program: dspy.Module, on_stage: Callable[[Stage], None] | None = None):
        predictors = list(program.named_predictors())
        self.names = {id(p): name.rsplit(".", 1)[-1] for name, p in predictors}
        self.activities = {id(p): ACTIVITIES.get(p.signature.__name__, name.rsplit(".", 1)[-1].replace("_", " "))
                           for name, p in predictors}
        self.on_stage = on_stage
        self.stages: list[Stage] = []
        self._calls: dict[str, _Call] = {}
        self._shown: list[list[str]] = []  # node lists shown to the extractor's LM calls, in order
        self._lock = threading.RLock()
    @contextmanager
    def watching(self) -> Iterator[TurnRecorder]:
        """Within: this recorder hears the program's calls, and tokens are tracked (inside any outer tracker)."""
        with dspy.context(callbacks=[*dspy.settings.callbacks, self]), dspy.track_usage():
            yield self

    def reset(self) -> None:
        """Forget the stages recorded so far (before a new turn)."""
        with self._lock:
            self.stages, self._shown = [], []

    def running(self) -> tuple[str, float] | None:
        """(activity, seconds) of the innermost stage running now, or None between stages."""
        with self._lock:
            if not self._calls:
                return None
            call = list(self._calls.values())[-1]
            return self._activity(call), time.perf_counter() - call.started

    def _name(self, instance: Any) -> str | None:
        part = next((name for kind, name in PART_NAMES.items() if isinstance(instance, kind)), None)
        return part or self.names.get(id(instance))

    def _activity(self, call: _Call) -> str:
        kind = next((text for kind, text in PART_ACTIVITIES.items() if isinstance(call.instance, kind)), None)
        return kind or self.activities.get(id(call.instance), call.name)

    # DSPy reports every dspy.Module call (predictors included) and the tool's calls as module calls.
    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        name = self._name(instance)
        if name is not None:
            with self._lock:
                self._calls[call_id] = _Call(name, instance, inputs, _tokens())

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        with self._lock:
            for call in self._calls.values():  # nested stages (the extractor's picks) count for both
                call.lm_calls += 1

    def on_module_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        with self._lock:
            call = self._calls.pop(call_id, None)
            if call is None:
                return
            prompt, completion = (now - before for now, before in zip(_tokens(), call.tokens))
            stage = Stage(call.name, self._activity(call), None, time.perf_counter() - call.started, call.lm_calls,
                          prompt, completion, nested=bool(self._calls))  # another recorded stage is still open
            if exception is not None:
                stage.error = f"{type(exception).__name__}: {(str(exception).splitlines() or [''])[0][:200]}"
                stage.line = f"{stage.activity}: {type(exception).__name__}"
            else:
                stage.line, stage.detail = self._describe(call, outputs)
            self.stages.append(stage)
        if self.on_stage is not None:
            self.on_stage(stage)

    def _describe(self, call: _Call, outputs: Any) -> tuple[str | None, dict]:
        """Chat's line and the JSON-able detail of a finished stage."""
        inputs = call.inputs.get("kwargs", {})  # a predictor's inputs arrive as its **kwargs
        if call.name in EXTRACTOR_CALLS:
            self._shown.append([str(n) for n in inputs.get("nodes", [])])
            return None, {"shown": self._shown[-1], "selected": plain(outputs.get("selected"))}
        if call.name == "extract":
            tree = call.instance.tree
            paths = [tree.path(node) for node in outputs.preferences]
            # The confirming extraction shows one list of proposals, not one list per level.
            confirming = call.instance.mode == "confirm"
            proposed = [entry.split(". ", 1)[-1] for entry in dict.fromkeys(sum(self._shown, []))] if confirming else []
            levels = _levels(tree, outputs.get("levels") or [], [] if confirming else self._shown)
            self._shown = []
            line = f"extracted: {'; '.join(paths) if paths else 'nothing found in the tree'}"
            return line, {"levels": levels, "proposed": proposed, "preferences": [int(n) for n in outputs.preferences],
                          "paths": paths}
        if call.name == "memory":
            return _memory_line(call.instance.tree, outputs), _memory(call.instance.tree, call.instance.catalog, outputs)
        if call.name == "tool":
            return _tool_line(outputs), _funnel(call.instance, outputs)
        detail = {key: plain(value) for key, value in outputs.items()} if isinstance(outputs, dspy.Prediction) else {}
        if call.name == "refine":
            return f"refined: chose {inputs.get('k')} of {len(inputs.get('candidates', []))} candidates", detail
        if call.name in ("decide", "decide_first"):
            if "evidence" in inputs:  # the computed facts the decision read: its reason when it writes none
                detail["evidence"] = inputs["evidence"]
            return f"decided: {outputs.get('action')}", detail
        if call.name == "summarize":
            return "summarised preferences", detail
        return f"{self._activity(call)}: done", detail


def plain(value: Any) -> Any:
    """``value`` as JSON-able data (pydantic models as dicts, anything else unknown as text)."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _tool_line(recommendation: Recommendation) -> str:
    counts = ", ".join(f"{n} {tool_stage_label(stage)}" for stage, n in recommendation.stage_counts().items())
    return f"ranked {len(recommendation.items)} candidates" + (f" ({counts})" if counts else "")


def _funnel(tool: RecsysTool, recommendation: Recommendation) -> dict:
    """Items under each preference, under all of them, and what each ranking stage contributed."""
    index = tool.attribute_index if ATTRIBUTE_FILTER in recommendation.stages else tool.preference_index
    applied = list(recommendation.preferences)
    return {
        "preferences": [{"key": key, "items": index.size(key)} for key in applied],
        "intersection": len(index.intersection(applied)) if applied else None,
        "relaxed": list(recommendation.relaxed), "widened": [list(pair) for pair in recommendation.widened],
        "ignored": list(recommendation.ignored),
        "stages": [{"stage": stage, "label": tool_stage_label(stage), "items": n}
                   for stage, n in recommendation.stage_counts().items()],
        "ranked": len(recommendation.items), "scored_by": recommendation.scored_by, "note": recommendation.note,
        "item_stages": {int(item): stage for item, stage in zip(recommendation.items, recommendation.stages)},
    }


def _levels(tree: PreferenceTree, levels: list[list[int]], shown: list[list[str]]) -> list[dict]:
    """Per level: the options the LM was shown (one list per distinct LM prompt; a retry repeats it) and those
    picked; a level with a single child was taken without showing anything, and a last list with no pick is
    where the extraction stopped."""
    lists = [entries for n, entries in enumerate(shown) if n == 0 or entries != shown[n - 1]]
    names = [[entry.split(". ", 1)[-1] for entry in entries] for entries in lists]
    result, used = [], 0
    for depth, picked in enumerate(levels, start=1):
        paths = [tree.path(node) for node in picked]
        options = paths
        if used < len(names) and set(paths) <= set(names[used]):
            options, used = names[used], used + 1
        result.append({"level": depth, "shown": [p.split(" > ")[-1] for p in options],
                       "picked": [tree.nodes[node].name for node in picked]})
    for options in names[used:]:
        result.append({"level": len(result) + 1, "shown": [p.split(" > ")[-1] for p in options], "picked": []})
    return result


def _memory_line(tree: PreferenceTree, memory: dspy.Prediction) -> str:
    state = memory.state
    parts = [f"in force: {'; '.join(tree.path(n) for n in state.preferences) or 'no preference'}"]
    if state.refused:
        parts.append("ruled out: " + ", ".join(tree.nodes[n].name for n in state.refused))
    if state.years is not None:
        parts.append(f"years: {years_text(state.years)}")
    if state.avoided:
        parts.append("away from: " + ", ".join(tree.nodes[n].name for n in state.avoided))
    if memory.rejected:
        parts.append(f"left out: {len(memory.rejected)} shown before")
    return " | ".join(parts)


def _memory(tree: PreferenceTree, catalog: Catalog, memory: dspy.Prediction) -> dict:
    """What the session holds after the user's message, and what changed."""
    state = memory.state
    return {"preferences": [tree.path(n) for n in state.preferences],
            "refused": [tree.nodes[n].name for n in state.refused],
            "years": None if state.years is None else years_text(state.years),
            "avoided": [tree.nodes[n].name for n in state.avoided], "notes": list(memory.notes),
            "rejected": [{"id": int(i), "title": catalog.titles[i]} for i in memory.rejected],
            "excluded": len(memory.excluded)}
