"""What one turn did and why, as plain JSON-able data: what ``afirs-dspy chat --verbose`` prints
(``text_lines``) and ``afirs-dspy serve`` draws.

``explain_turn`` joins the stages a ``TurnRecorder`` saw with the Prediction the turn returned (action, items,
preferences, candidates, preselected, trace) into one explanation: what the session holds (preferences in force,
what was ruled out, the items left out and the critique applied), the tree path per level with the options
shown, the two-stage funnel, the decision and its reason, the aspect a question asks with its spread over the
candidates, item cards, and every trace step with its status. Stages and trace steps it does not know still show.
"""
from __future__ import annotations

import dspy

from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.conversation_facts import asked_aspects
from afirs_dspy.domain.preference_tree import ATTRIBUTE_LEVEL, PreferenceTree
from afirs_dspy.explain.recorder import Stage, plain, tool_stage_label

# Trace steps a stage records under other names than its own ("select_level_2", "confirm": the extractor's).
TRACE_NAMES = {"extract": ("select", "confirm"), "decide_first": ("decide",), "respond": ("reply",)}
STATUS_ORDER = ("ok", "retried", "fallback")
MAX_OPTIONS = 8  # options of an asked aspect drawn in its distribution


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
    trace = [{k: plain(v) for k, v in event.items()} for event in turn.get("trace") or []]
    last = {s.name: s for s in stages}
    extract, tool, memory = last.get("extract"), last.get("tool"), last.get("memory")
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
    decision_notes = [e["note"] for e in trace if e.get("note") and e.get("step") in ("no_question", "critique", "finish")]
    decision_notes += [err for e in trace if e.get("step") == "finish" for err in e.get("errors", [])]
    preference_nodes = extract.detail.get("preferences", []) if extract is not None and not extract.error else []
    shown = list(turn["items"]) if turn["action"] == "recommend" else list(preselected or [])
    return {
        "action": turn["action"], "reply": turn["reply"], "question": turn.get("question") or "",
        "preferences": list(turn.get("preferences") or []),
        "session": memory.detail if memory is not None and not memory.error else None,
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


