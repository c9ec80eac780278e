"""An explanation (``explanation.explain_turn``) as short text lines: what ``afirs-dspy chat --verbose`` prints."""
from __future__ import annotations


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
    session = explanation.get("session")
    if session:
        if session["refused"]:
            lines.append(f"ruled out: {', '.join(session['refused'])}")
        if session["years"]:
            lines.append(f"years: {session['years']}")
        if session["avoided"]:
            lines.append(f"away from: {', '.join(session['avoided'])}")
        if session["rejected"]:
            lines.append(f"left out ({len(session['rejected'])} shown before): "
                         + "; ".join(item["title"] for item in session["rejected"]))
        if session["notes"]:
            lines.append(f"this message: {'; '.join(session['notes'])}")
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
