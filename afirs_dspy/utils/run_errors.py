"""How a long run (an evaluation, a compile) says that it cannot start or go on, so that its callers — the
command line, the benchmarks — report it in one line without knowing what failed inside it."""
from __future__ import annotations


class SettingsError(ValueError):
    """Settings that contradict each other or what they name; ``option`` is the one to change (None: several)."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


class RunError(Exception):
    """A run that cannot start or go on; the message is one line saying what to change or run."""


class RunInterrupted(Exception):
    """Ctrl-C: the finished work is saved; the message says where and how to continue."""
