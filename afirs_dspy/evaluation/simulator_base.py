"""What every user simulator offers the session loop, and the one rule they share: acceptance by ids."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

END = "<END>"


@dataclass(frozen=True)
class SessionCase:
    """A test (or validation) instance: ``user`` looks for ``target`` after ``history`` (ids, oldest first)."""

    user: str
    target: int
    history: tuple[int, ...]


def recommends_target(turn: Mapping, target: int) -> bool:
    """Acceptance, decided by ids: the turn recommends and ``target`` is among its items.

    ``turn`` is a program's Prediction (read with ``turn["items"]``: ``.items`` is its dict method).
    """
    return turn["action"] == "recommend" and target in set(turn["items"])


@dataclass
class SimulatorStats:
    """Per session: LM outputs that named the target title, how many were regenerated, how many
    replies were stripped of it in the end, and simulator outputs that failed to parse."""

    leaks: int = 0
    regenerations: int = 0
    stripped: int = 0
    parse_failures: int = 0
    fallbacks: int = 0

    def as_dict(self) -> dict:
        return dict(vars(self))


class UserSimulator(Protocol):
    """One simulated user for one session, created per session from a SessionCase and a seed.

    ``open()`` is the user's first message. ``respond(turn, dialogue)`` answers the program's turn
    (``dialogue`` already ends with the program's reply). ``ended`` is set once the user ends the
    conversation (<END>). ``trace`` holds the events of the last call, ``stats`` the session's counts.
    """

    ended: bool
    trace: list[dict]
    stats: SimulatorStats

    def open(self) -> str: ...

    def respond(self, turn: Mapping, dialogue: list[dict]) -> str: ...


@dataclass
class SimulatorState:
    """The mutable part every simulator keeps (mixed into the concrete ones)."""

    ended: bool = False
    trace: list[dict] = field(default_factory=list)
    stats: SimulatorStats = field(default_factory=SimulatorStats)
