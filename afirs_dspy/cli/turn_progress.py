"""What ``afirs-dspy chat`` shows while a turn runs: one line as each stage finishes and a spinner meanwhile.

It is a DSPy callback (``dspy.utils.callback.BaseCallback``) set with ``dspy.context(callbacks=[...])``, so the
program prints nothing itself. The stages and their lines come from ``TurnRecorder`` (``explain.recorder``), which
``afirs-dspy serve`` uses for its progress too.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, TextIO

import dspy

from afirs_dspy.explain.explanation import repaired_steps
from afirs_dspy.explain.recorder import Stage, TurnRecorder

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class TurnProgress(TurnRecorder):
    """Writes to ``stream`` a line per finished stage of ``program``'s turns, and at the end of a turn the steps
    its trace records as repaired; with ``spinner``, a spinner and the current stage's seconds on one rewritten
    line while a turn runs (for terminals only)."""

    def __init__(self, program: dspy.Module, stream: TextIO, spinner: bool, interval: float = 0.1):
        super().__init__(program, on_stage=self._stage_line)
        self.stream = stream
        self.spinner = spinner
        self.interval = interval
        self._open = 0  # module calls running (the program's own included)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        super().on_module_start(call_id, instance, inputs)
        with self._lock:
            self._open += 1
            first = self._open == 1
        if first and self.spinner:
            self._stop.clear()
            self._thread = threading.Thread(target=self._spin, daemon=True)
            self._thread.start()

    def on_module_end(self, call_id: str, outputs: Any | None, exception: BaseException | None = None) -> None:
        super().on_module_end(call_id, outputs, exception)
        with self._lock:
            self._open -= 1
            last = self._open == 0
        if not last:
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        repaired = repaired_steps(outputs.get("trace", [])) if isinstance(outputs, dspy.Prediction) else []
        self._write(f"LM output repaired: {', '.join(repaired)}" if repaired and exception is None else "")

    def _stage_line(self, stage: Stage) -> None:
        if stage.line:
            self._write(f"{stage.line} ({stage.seconds:.1f} s)")

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
            running = self.running()
            status = f"{frame} {running[0]}… {running[1]:.0f} s" if running else f"{frame} working…"
            with self._lock:
                self.stream.write(f"\r\x1b[K{status}")
                self.stream.flush()
