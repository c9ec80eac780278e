"""An evidence plan (issue 34): what a pinned evidence run measures, and in which order.

A plan is a JSON file, ``bench/plans/<name>.json`` (its name is the file's stem):

    {
      "format": 1,
      "commit": "<40 hex digits>",           the commit measured: every cell runs from a worktree of it
      "note": "…",                           optional, for the reader
      "lm": null, "api_base": null,          the program's LM, as `afirs-dspy eval --lm` (null: embedded)
      "sim_lm": null, "sim_api_base": null,  the LLM simulator's LM, for the cells with "simulator": "llm"
      "seed": 0, "max_turns": 5,
      "users": "evidence",                   the test users' pool (`afirs-dspy eval --users`)
      "artifacts_dir": null,                 null: $AFIRS_ARTIFACTS_DIR or ./artifacts
      "pilot": {"datasets": […], "methods": […], "users": 5, "strongest": 3},
      "cells": [{"name": "…", "dataset": "…", "methods": […], "users": 30,
                 "simulator": "attribute" | "llm", "compile": ["bootstrap", {"optimizer": "gepa", "n_sessions": 8}]}]
    }

Cells run in priority order: the pilots first (one cell per pilot dataset, every pilot method on
``users`` users), then the cells as listed; each reaches its users before the next starts. A cell's methods
may name the pilots' choice: ``@strongest`` (the ``strongest`` pilot methods best by SR@5 over all pilots,
ties: lower AT, then the order listed), ``@others`` (the rest of them) and ``@best`` (the first of
``@strongest``). ``compile`` lists the optimizers whose compiled AF-IRS the cell evaluates beside its
methods, each compiled once by the pinned code on its validation users (``n_sessions``, default 4).
The plan's digest binds its results: a plan edited after its first run is refused, re-pinning is a new plan.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.summary import ranked_by_sr5

FORMAT = 1
REFERENCES = ("@strongest", "@others", "@best")
SIMULATORS = ("attribute", "llm")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class PlanError(ValueError):
    """A plan file that cannot be run as written; the message names the file and the entry."""


@dataclass(frozen=True)
class CompileSpec:
    optimizer: str
    n_sessions: int = 4

    @property
    def program(self) -> str:
        """The compiled program's file stem, which names its row."""
        return f"afirs-{self.optimizer}"


@dataclass(frozen=True)
class Cell:
    name: str
    dataset: str
    methods: tuple[str, ...]  # may hold REFERENCES to the pilots' choice
    users: int
    simulator: str = "attribute"
    compile: tuple[CompileSpec, ...] = ()
    pilot: bool = False

    def run_methods(self, choice: PilotChoice | None) -> list[str] | None:
        """The methods its run evaluates, its compiled programs last; None while they name a pilot choice not
        yet made."""
        if any(method.startswith("@") for method in self.methods) and choice is None:
            return None
        methods = choice.resolve(self.methods) if choice else list(self.methods)
        return [*methods, *(spec.program for spec in self.compile)]


@dataclass(frozen=True)
class Pilot:
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    users: int = 5
    strongest: int = 3


@dataclass(frozen=True)
class Plan:
    name: str
    commit: str
    digest: str  # of the plan's canonical JSON
    cells: tuple[Cell, ...]
    pilot: Pilot | None = None
    lm: str | None = None
    api_base: str | None = None
    sim_lm: str | None = None
    sim_api_base: str | None = None
    seed: int = 0
    max_turns: int = 5
    users: str = "evidence"
    artifacts_dir: str | None = None
    note: str = ""

    @property
    def pinned(self) -> bool:
        return bool(_COMMIT.fullmatch(self.commit))

    def ordered_cells(self) -> list[Cell]:
        """The cells in priority order: the pilots, then the plan's cells as listed."""
        pilots = [Cell(f"0-pilot-{dataset}", dataset, self.pilot.methods, self.pilot.users, pilot=True)
                  for dataset in (self.pilot.datasets if self.pilot else ())]
        return [*pilots, *self.cells]

    def cell(self, name: str) -> Cell:
        found = {cell.name: cell for cell in self.ordered_cells()}
        if name not in found:
            raise PlanError(f"plan {self.name} has no cell {name!r}; its cells: {', '.join(found)}")
        return found[name]


def plan_digest(data: Mapping) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _require(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise PlanError(f"{path}: {what}")


def _positive(value, path: Path, where: str) -> int:
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, path,
             f"{where} must be a positive whole number, not {value!r}")
    return value


def _names(value, path: Path, where: str) -> tuple[str, ...]:
    _require(isinstance(value, list) and value and all(isinstance(v, str) and v for v in value), path,
             f"{where} must be a non-empty list of names")
    return tuple(value)


def _compile_specs(value, path: Path, where: str) -> tuple[CompileSpec, ...]:
    _require(isinstance(value, list), path, f"{where} must be a list of optimizers")
    specs = []
    for k, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {"optimizer": entry}
        _require(isinstance(entry, dict) and isinstance(entry.get("optimizer"), str)
                 and set(entry) <= {"optimizer", "n_sessions"}, path,
                 f"{where}[{k}] must be an optimizer's name or {{\"optimizer\": …, \"n_sessions\": …}}")
        n_sessions = _positive(entry.get("n_sessions", 4), path, f"{where}[{k}].n_sessions")
        specs.append(CompileSpec(entry["optimizer"], n_sessions))
    return tuple(specs)


def _cell(data, path: Path, k: int, has_pilot: bool) -> Cell:
    where = f"cells[{k}]"
    _require(isinstance(data, dict), path, f"{where} must be an object")
    unknown = set(data) - {"name", "dataset", "methods", "users", "simulator", "compile"}
    _require(not unknown, path, f"{where} has unknown keys {sorted(unknown)}")
    name = data.get("name")
    _require(isinstance(name, str) and bool(_NAME.fullmatch(name)) and not name.startswith("0-pilot-"), path,
             f"{where}.name must be a folder name (letters, digits, . _ -), not a pilot's, not {name!r}")
    _require(isinstance(data.get("dataset"), str), path, f"{where}.dataset must be a dataset's name")
    methods = _names(data.get("methods"), path, f"{where}.methods")
    references = [m for m in methods if m.startswith("@")]
    _require(set(references) <= set(REFERENCES), path, f"{where}.methods: unknown references "
             f"{sorted(set(references) - set(REFERENCES))}; known: {', '.join(REFERENCES)}")
    _require(has_pilot or not references, path, f"{where}.methods name the pilots' choice, but there is no pilot")
    simulator = data.get("simulator", "attribute")
    _require(simulator in SIMULATORS, path, f"{where}.simulator must be one of {', '.join(SIMULATORS)}")
    return Cell(name, data["dataset"], methods, _positive(data.get("users"), path, f"{where}.users"), simulator,
                _compile_specs(data.get("compile", []), path, f"{where}.compile"))


def load_plan(path: str | Path) -> Plan:
    """The plan at ``path``, checked (PlanError names what is wrong); its commit may still be unpinned."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"{path}: not a readable plan ({exc})") from None
    _require(isinstance(data, dict) and data.get("format") == FORMAT, path,
             f"must be an object with \"format\": {FORMAT}")
    known = {"format", "commit", "note", "lm", "api_base", "sim_lm", "sim_api_base", "seed", "max_turns", "users",
             "artifacts_dir", "pilot", "cells"}
    _require(not set(data) - known, path, f"unknown keys {sorted(set(data) - known)}")
    _require(isinstance(data.get("commit"), str), path, "commit must be the measured commit's hash (a string)")
    pilot = None
    if data.get("pilot") is not None:
        raw = data["pilot"]
        _require(isinstance(raw, dict) and set(raw) <= {"datasets", "methods", "users", "strongest"}, path,
                 "pilot must be an object with datasets, methods, users, strongest")
        pilot = Pilot(_names(raw.get("datasets"), path, "pilot.datasets"),
                      _names(raw.get("methods"), path, "pilot.methods"),
                      _positive(raw.get("users", 5), path, "pilot.users"),
                      _positive(raw.get("strongest", 3), path, "pilot.strongest"))
        _require(pilot.strongest < len(pilot.methods), path, "pilot.strongest must be fewer than the pilot's methods")
    _require(isinstance(data.get("cells"), list) and data["cells"], path, "cells must be a non-empty list")
    cells = tuple(_cell(cell, path, k, pilot is not None) for k, cell in enumerate(data["cells"]))
    names = [cell.name for cell in cells]
    _require(len(set(names)) == len(names), path, f"cell names must differ: {names}")
    _require(data.get("users", "evidence") in ("evidence", "development", "all"), path,
             "users must be evidence, development or all")
    settings = {key: data[key] for key in ("lm", "api_base", "sim_lm", "sim_api_base", "seed", "max_turns", "users",
                                           "artifacts_dir", "note") if key in data}
    return Plan(path.stem, data["commit"], plan_digest(data), cells, pilot, **settings)


@dataclass(frozen=True)
class PilotChoice:
    """The pilot methods ranked by SR@5 over every pilot: the first ``strongest`` and the others."""

    ranked: tuple[str, ...]
    strongest: int

    def resolve(self, methods: Sequence[str]) -> list[str]:
        """``methods`` with the references to the choice replaced by the methods they name."""
        named = {"@strongest": self.ranked[:self.strongest], "@others": self.ranked[self.strongest:],
                 "@best": self.ranked[:1]}
        return list(dict.fromkeys(m for method in methods for m in named.get(method, (method,))))


def choose(plan: Plan, pilot_records: Mapping[str, Sequence[SessionRecord]]) -> PilotChoice:
    """Rank the pilot methods over the pilots' sessions (every pilot dataset pooled, ``ranked_by_sr5``); a method
    without a session ranks last, in the order listed."""
    ranked = ranked_by_sr5(pilot_records, plan.pilot.methods, plan.max_turns)
    return PilotChoice(tuple([*ranked, *(m for m in plan.pilot.methods if m not in ranked)]), plan.pilot.strongest)
