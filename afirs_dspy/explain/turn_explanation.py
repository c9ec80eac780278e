"""What one turn did and why, as plain JSON-able data: what ``afirs-dspy chat`` prints and ``afirs-dspy serve`` draws.

Two sources, both read generically so that new stages and trace steps show up without changes here:

- ``TurnRecorder``, a DSPy callback (set with ``dspy.context(callbacks=[…])``; ``recorder.watching()`` does it
  and tracks tokens), sees each stage of a turn as it finishes — the preference extractor, the recommender tool
  and every predictor of the program (named as in ``program.named_predictors()``) — with its seconds, LM calls,
  tokens and what it produced; ``on_stage`` hears of each one as it happens (chat's lines, serve's progress).
- ``explain_turn`` joins those stages with the Prediction the turn returned (action, items, preferences,
  candidates, preselected, trace) into one explanation: the tree path per level with the options shown, the
  two-stage funnel, the decision and its reason, the aspect a question asks with its spread over the
  candidates, item cards, and every trace step with its status.
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
from afirs_dspy.domain.conversation_facts import asked_aspects
from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.recsys.tool import ATTRIBUTE_FILTER, Recommendation, RecsysTool

# What a predictor (by its attribute name) is doing while it runs.
ACTIVITIES = {
    "extract": "extracting preferences", "tool": "ranking candidates", "select": "extracting preferences",
    "confirm": "extracting preferences", "summarize": "summarising preferences", "refine": "refining candidates",
    "decide": "deciding", "decide_first": "deciding", "ask": "writing a question", "respond": "writing the reply",
}
# How the tool's ranking stages read.
TOOL_STAGES = {"preferences": "with every preference", "partial": "with some", "sasrec": "by SASRec alone",
               "attribute-filter": "through the attribute filter"}
# Trace steps a stage records under other names than its own ("select_level_2", "confirm": the extractor's).
TRACE_NAMES = {"extract": ("select", "confirm"), "decide_first": ("decide",), "respond": ("reply",)}
EXTRACTOR_CALLS = ("select", "confirm")  # the extractor's own LM calls: the options each was shown
STATUS_ORDER = ("ok", "retried", "fallback")
MAX_OPTIONS = 8  # options of an asked aspect drawn in its distribution


def activity(name: str) -> str:
    return ACTIVITIES.get(name, name.replace("_", " "))


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
        self.names = {id(p): name.rsplit(".", 1)[-1] for name, p in program.named_predictors()}
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
            return activity(call.name), time.perf_counter() - call.started

    def _name(self, instance: Any) -> str | None:
        if isinstance(instance, SessionPreferenceExtractor):
            return "extract"
        if isinstance(instance, RecsysTool):
            return "tool"
        return self.names.get(id(instance))

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
            stage = Stage(call.name, activity(call.name), None, time.perf_counter() - call.started, call.lm_calls,
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
            return None, {"shown": self._shown[-1], "selected": _plain(outputs.get("selected"))}
        if call.name == "extract":
            tree = call.instance.tree
            paths = [tree.path(node) for node in outputs.preferences]
            # The confirming extraction shows one list of proposals, not one list per level.
            confirming = call.instance.mode == "confirm"
            proposed = [entry.split(". ", 1)[-1] for entry in dict.fromkeys(sum(self._shown, []))] if confirming else []
            levels = _levels(tree, outputs.get("levels") or [], [] if confirming else self._shown)
            self._shown = []
            line = f"preferences: {'; '.join(paths) if paths else 'none found in the tree'}"
            return line, {"levels": levels, "proposed": proposed, "preferences": [int(n) for n in outputs.preferences],
                          "paths": paths}
        if call.name == "tool":
            return _tool_line(outputs), _funnel(call.instance, outputs)
        detail = {key: _plain(value) for key, value in outputs.items()} if isinstance(outputs, dspy.Prediction) else {}
        if call.name == "refine":
            return f"refined: chose {inputs.get('k')} of {len(inputs.get('candidates', []))} candidates", detail
        if call.name in ("decide", "decide_first"):
            if "evidence" in inputs:  # the computed facts the decision read: its reason when it writes none
                detail["evidence"] = inputs["evidence"]
            return f"decided: {outputs.get('action')}", detail
        if call.name == "summarize":
            return "summarised preferences", detail
        return f"{activity(call.name)}: done", detail


def _plain(value: Any) -> Any:
    """``value`` as JSON-able data (pydantic models as dicts, anything else unknown as text)."""
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


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


def worst_status(events: list[dict]) -> str | None:
    statuses = [e["status"] for e in events if e.get("status") in STATUS_ORDER]
    return max(statuses, key=STATUS_ORDER.index) if statuses else None


def repaired_steps(trace: list[dict]) -> list[str]:
    """'step status' for every trace step retried or replaced by its fallback."""
    return [f"{e['step']} {e['status']}" for e in trace if e.get("status") in ("retried", "fallback")]


def _trace_of(name: str, trace: list[dict]) -> list[dict]:
    prefixes = TRACE_NAMES.get(name, (name,))
    return [e for e in trace if str(e.get("step", "")).startswith(prefixes)]


def _merged_stages(stages: list[Stage], trace: list[dict]) -> list[dict]:
    """The stages not nested in another, consecutive calls of one predictor (a retry) merged, each with the
    worst status its trace steps record."""
    rows: list[dict] = []
    for stage in (s for s in stages if not s.nested):
        row = rows[-1] if rows and rows[-1]["name"] == stage.name else None
        if row is None:
            rows.append({"name": stage.name, "activity": stage.activity, "line": stage.line, "calls": 1,
                         "seconds": stage.seconds, "lm_calls": stage.lm_calls, "prompt_tokens": stage.prompt_tokens,
                         "completion_tokens": stage.completion_tokens, "error": stage.error})
            continue
        row["calls"] += 1
        for key in ("seconds", "lm_calls", "prompt_tokens", "completion_tokens"):
            row[key] += getattr(stage, key)
        row["error"] = row["error"] or stage.error
    for row in rows:
        events = _trace_of(row["name"], trace)
        row["status"] = "error" if row["error"] else worst_status(events) or "ok"
        row["notes"] = [e["note"] for e in events if e.get("note")] + [err for e in events for err in e.get("errors", [])]
    return rows


def _aspects(tree: PreferenceTree, question: str, candidates: list[int]) -> list[dict]:
    """The aspects a question names options of, as the program reads it back, each with how many of the
    candidates hold each of its options (the distribution the question splits)."""
    pool = set(candidates)
    aspects = []
    for aspect in sorted(asked_aspects(tree, question)):
        options = [(node.name, len(pool.intersection(tree.node_items(node.id).tolist())))
                   for node in tree.children(aspect) if node.level == ATTRIBUTE_LEVEL]
        options = sorted((o for o in options if o[1]), key=lambda o: -o[1])[:MAX_OPTIONS]
        aspects.append({"path": tree.path(aspect), "total": len(pool),
                        "options": [{"name": name, "items": n} for name, n in options]})
    return aspects


def _card(item: int, catalog: Catalog, tree: PreferenceTree | None, preference_nodes: list[int],
          candidates: list[int], item_stages: dict[int, str]) -> dict:
    why = []
    if item in candidates:
        why.append(f"#{candidates.index(item) + 1} of the {len(candidates)} candidates")
    if item in item_stages:
        why.append(f"ranked {tool_stage_label(item_stages[item])}")
    held = [tree.nodes[n].name for n in preference_nodes if tree is not None and item in tree.node_items(n)]
    if held:
        why.append("has " + ", ".join(held))
    return {"id": int(item), "title": catalog.titles[item], "attributes": list(catalog.attributes[item])[:8],
            "why": "; ".join(why)}


def _key_name(tree: PreferenceTree | None, key: str) -> str:
    """A tool key as the user reads it: a tree node's path (the tool's preference keys are node ids), else itself."""
    if tree is not None and key.isdigit() and int(key) < len(tree.nodes):
        return tree.path(int(key))
    return key


def explain_turn(turn: dspy.Prediction, stages: list[Stage], catalog: Catalog,
                 tree: PreferenceTree | None = None) -> dict:
    """The JSON-able explanation of ``turn`` from its Prediction and the ``stages`` a TurnRecorder saw."""
    trace = [{k: _plain(v) for k, v in event.items()} for event in turn.get("trace") or []]
    last = {s.name: s for s in stages}
    extract, tool = last.get("extract"), last.get("tool")
    candidates = [int(i) for i in turn.get("candidates") or []]
    preselected = turn.get("preselected")
    funnel, item_stages = None, {}
    if tool is not None and not tool.error:
        funnel = {key: value for key, value in tool.detail.items() if key != "item_stages"}
        item_stages = tool.detail["item_stages"]
        funnel["preferences"] = [{**p, "name": _key_name(tree, p["key"])} for p in funnel["preferences"]]
        funnel["relaxed"] = [_key_name(tree, key) for key in funnel["relaxed"]]
        funnel["widened"] = [[_key_name(tree, key) for key in pair] for pair in funnel["widened"]]
        funnel["refined"] = len(preselected) if preselected is not None else None
        funnel["refine_status"] = worst_status(_trace_of("refine", trace))
    decided = last.get("decide") or last.get("decide_first")
    decision_notes = [e["note"] for e in trace if e.get("note") and e.get("step") in ("no_question", "finish")]
    decision_notes += [err for e in trace if e.get("step") == "finish" for err in e.get("errors", [])]
    preference_nodes = extract.detail.get("preferences", []) if extract is not None and not extract.error else []
    shown = list(turn["items"]) if turn["action"] == "recommend" else list(preselected or [])
    return {
        "action": turn["action"], "reply": turn["reply"], "question": turn.get("question") or "",
        "preferences": list(turn.get("preferences") or []),
        "extraction": ({key: extract.detail[key] for key in ("levels", "proposed", "paths")}
                       if extract is not None and not extract.error else None),
        "funnel": funnel,
        "candidates": len(candidates) if turn.get("candidates") is not None else None,
        "decision": {"action": turn["action"], "decided": decided.detail.get("action") if decided else None,
                     "reason": (decided.detail.get("reason") or decided.detail.get("evidence")) if decided else None,
                     "status": worst_status(_trace_of("decide", trace)), "notes": decision_notes},
        "aspects": _aspects(tree, turn["question"], candidates) if tree is not None and turn["action"] == "ask" else [],
        "items": [_card(i, catalog, tree, preference_nodes, candidates, item_stages) for i in shown],
        "items_are": "recommended" if turn["action"] == "recommend" else "would recommend now",
        "stages": _merged_stages(stages, trace),
        "trace": trace,
        "repaired": repaired_steps(trace),
    }


def explanation_lines(explanation: dict) -> list[str]:
    """The explanation as short text lines (chat --verbose)."""
    lines = [f"action: {explanation['action']}" + (f" ({explanation['decision']['reason']})"
                                                   if explanation["decision"]["reason"] else "")]
    if explanation["extraction"]:
        if explanation["extraction"]["proposed"]:
            lines.append(f"proposed: {'; '.join(explanation['extraction']['proposed'])}")
        for level in explanation["extraction"]["levels"]:
            lines.append(f"tree level {level['level']}: picked {', '.join(level['picked']) or 'nothing'}"
                         f" of {', '.join(level['shown'])}")
    if explanation["preferences"]:
        lines.append(f"session preferences: {'; '.join(explanation['preferences'])}")
    funnel = explanation["funnel"]
    if funnel:
        under = ", ".join(f"{p['name']} {p['items']}" for p in funnel["preferences"])
        lines.append(f"funnel: items under {under or 'no preference'}"
                     + (f" → {funnel['intersection']} under all" if len(funnel["preferences"]) > 1 else "")
                     + f" → {funnel['ranked']} candidates ({', '.join(str(s['items']) + ' ' + s['label'] for s in funnel['stages'])})"
                     + (f" → {funnel['refined']} refined" if funnel["refined"] is not None else ""))
    for aspect in explanation["aspects"]:
        lines.append(f"asked about {aspect['path']}: "
                     + ", ".join(f"{o['name']} {o['items']}/{aspect['total']}" for o in aspect["options"]))
    if explanation["candidates"]:
        lines.append(f"candidates ({explanation['candidates']}); {explanation['items_are']}: "
                     + "; ".join(card["title"] for card in explanation["items"]))
    lines.append("trace: " + ", ".join(f"{e['step']}:{e['status']}" for e in explanation["trace"] if "status" in e))
    lines.append("steps: " + ", ".join(f"{s['name']} {s['seconds']:.1f} s, {s['lm_calls']} LM calls, "
                                       f"{s['prompt_tokens'] + s['completion_tokens']} tokens"
                                       for s in explanation["stages"]))
    return lines
