"""A progress bar over simulated sessions that moves, and estimates, turn by turn.

A session with the local model takes minutes, so a bar per session shows no estimate until the first one
ends. This one counts turns out of ``sessions × max_turns``; a session that ends early takes its unplayed
turns off the total, so the time left is an upper bound that tightens as sessions end.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


class SessionTurnsBar:
    def __init__(self, desc: str, sessions: int, max_turns: int, done: int = 0, disable: bool = False):
        self.desc, self.sessions, self.done, self.max_turns = desc, sessions, done, max_turns
        self._lock = threading.Lock()
        self.bar = tqdm(total=(sessions - done) * max_turns, unit="turn", desc=self._label(), disable=disable,
                        dynamic_ncols=True)

    def _label(self) -> str:
        return f"{self.desc} ({self.done}/{self.sessions} sessions)"

    def track(self, session: Callable[[Callable[[], None]], T]) -> T:
        """``session(on_turn)``: one session whose ``on_turn()`` calls move the bar; when it ends (or fails),
        its unplayed turns leave the total."""
        played = 0

        def on_turn() -> None:
            nonlocal played
            played += 1
            with self._lock:
                self.bar.update(1)

        try:
            return session(on_turn)
        finally:
            with self._lock:
                self.done += 1
                self.bar.total -= self.max_turns - played
                self.bar.set_description(self._label(), refresh=False)
                self.bar.refresh()

    def set_postfix(self, values: dict, refresh: bool = False) -> None:
        with self._lock:
            self.bar.set_postfix(values, refresh=refresh)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> SessionTurnsBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
