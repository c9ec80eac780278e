"""What ``afirs-dspy chat`` shows while a turn runs: one line as each stage finishes and a spinner meanwhile.

It is a DSPy callback (``dspy.utils.callback.BaseCallback``) set with ``dspy.context(callbacks=[...])``, so the
program prints nothing itself: the lines come from the module calls DSPy reports — the preference extractor,
the recommender tool, and each predictor (named as in ``program.named_predictors()``).
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

import dspy
from dspy.utils.callback import BaseCallback

from afirs_dspy.programs.preference_extractor import SessionPreferenceExtractor
from afirs_dspy.recsys.tool import RecsysTool

# What a predictor (by its attribute name) is doing, shown beside the spinner.
ACTIVITIES = {
    "select": "extracting preferences", "confirm": "extracting preferences", "summarize": "summarising preferences", "refine": "refining candidates",
    "decide": "deciding", "decide_first": "deciding", "ask": "writing a question", "respond": "writing the reply",
}
# How the tool's ranking stages read in the tool's line.
TOOL_STAGES = {"preferences": "with every preference", "sasrec": "by SASRec alone",
               "attribute-filter": "through the attribute filter"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class _Call:
    instance: Any
    inputs: dict
    activity: str | None
    started: float = field(default_factory=time.perf_counter)


class TurnProgress(BaseCallback):
    """Writes to ``stream`` a line per finished stage of ``program``'s turns; with ``spinner``, a spinner and
    the current stage's seconds on one rewritten line while a turn runs (for terminals only)."""

    def __init__(self, program: dspy.Module, stream: TextIO, spinner: bool, interval: float = 0.1):
        self.names = {id(p): name.rsplit(".", 1)[-1] for name, p in program.named_predictors()}
        self.stream = stream
        self.spinner = spinner
        self.interval = interval
        self._calls: dict[str, _Call] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # DSPy reports every dspy.Module call (predictors included) and the tool's recommend calls as module calls.
    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        with self._lock:
            first = not self._calls
            self._calls[call_id] = _Call(instance, inputs, self._activity(instance))
        if first and self.spinner:
            self._stop.clear()
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()

    def on_module_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        with self._lock:
            call = self._calls.pop(call_id, None)
            last = not self._calls
        if call is not None:
            line = self._line(call, outputs, exception)
            if line:
                self._write(f"{line} ({time.perf_counter() - call.started:.1f} s)")
        if last and self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if last:
            self._write(self._repairs(outputs) if call is not None and exception is None else "")

    @staticmethod
    def _repairs(turn: Any) -> str:
        """The steps the turn's trace records as retried or replaced by their fallback, if any."""
        trace = turn.get("trace", []) if isinstance(turn, dspy.Prediction) else []
        repaired = [f"{event['step']} {event['status']}" for event in trace
                    if event.get("status") in ("retried", "fallback")]
        return f"LM output repaired: {', '.join(repaired)}" if repaired else ""

    def _activity(self, instance: Any) -> str | None:
        if isinstance(instance, RecsysTool):
            return "ranking candidates"
        name = self.names.get(id(instance))
        return None if name is None else ACTIVITIES.get(name, name.replace("_", " "))

    def _line(self, call: _Call, outputs: Any, exception: BaseException | None) -> str | None:
        """The line for a finished call, or None for the calls that get none (the extractor's own LM calls)."""
        instance, name = call.instance, self.names.get(id(call.instance))
        if exception is not None:
            return f"{call.activity}: {type(exception).__name__}" if name else None
        if isinstance(instance, SessionPreferenceExtractor):
            paths = [instance.tree.path(node) for node in outputs.preferences]
            return f"preferences: {'; '.join(paths) if paths else 'none found in the tree'}"
        if isinstance(instance, RecsysTool):
            # "widened-j" / "relaxed-j": after j relaxations, the last widening / dropping a preference.
            counts = ", ".join(f"{n} {TOOL_STAGES.get(stage, 'with a preference ' + stage.split('-')[0])}"
                               for stage, n in outputs.stage_counts().items())
            return f"ranked {len(outputs.items)} candidates" + (f" ({counts})" if counts else "")
        if name is None or name in ("select", "confirm"):
            return None
        if name == "refine":
            inputs = call.inputs.get("kwargs", {})  # a predictor's inputs arrive as its **kwargs
            return f"refined: chose {inputs.get('k')} of {len(inputs.get('candidates', []))} candidates"
        if name in ("decide", "decide_first"):
            return f"decided: {outputs.get('action')}"
        if name == "summarize":
            return "summarised preferences"
        return f"{call.activity}: done"

    def _write(self, line: str) -> None:
        """Clear the spinner's line, then write ``line`` (if any) on its own line; the spinner redraws after."""
        with self._lock:
            if self.spinner:
                self.stream.write("\r\x1b[K")
            if line:
                self.stream.write(line + "\n")
            self.stream.flush()

    def _spin(self) -> None:
        for frame in itertools.cycle(SPINNER):
            if self._stop.wait(self.interval):
                return
            with self._lock:
                running = [c for c in self._calls.values() if c.activity]
                if running:
                    current = running[-1]
                    status = f"{frame} {current.activity}… {time.perf_counter() - current.started:.0f} s"
                else:
                    status = f"{frame} working…"
                self.stream.write(f"\r\x1b[K{status}")
                self.stream.flush()
