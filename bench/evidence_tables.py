"""An evidence plan's tables, from its transcripts alone: ``bench/results/evidence/<plan>/tables.{md,json}``.

First the state of every cell in priority order (users finished of those planned, sessions, errors, shards
not yet merged, the core-hours its users left would take) and the pilots' choice. Then, per dataset and
simulator, the cells' sessions pooled — each cell's users every one of its methods has a session of, each
(method, user) once — into the paper's tables:

- Table 2, methods: AF-IRS and the baselines, tested against the best baseline by SR@5;
- Table 3, ablations: AF-IRS and its ablations, each tested against AF-IRS, the full program;
- the compile effect: each compiled AF-IRS against the uncompiled one, with what its compile cost.

Rows are paired per user: each comparison uses the users both methods have (its ``pairs``), with exact tests,
Holm's correction over the table, 95% bootstrap intervals and the users a difference would need
(``afirs_dspy.evaluation.significance``). Costs come from the sessions as the pinned code recorded them.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from afirs_dspy.compiled.manifest import manifest_path
from afirs_dspy.evaluation.metrics import costs
from afirs_dspy.evaluation.records import SessionRecord
from afirs_dspy.evaluation.report import render_markdown
from afirs_dspy.evaluation.run_config import read_run_config
from afirs_dspy.evaluation.runner import complete_users
from afirs_dspy.evaluation.summary import best_baseline, build_summary
from afirs_dspy.programs.afirs import AFIRSConfig
from afirs_dspy.programs.registry import ABLATIONS, BASELINES
from afirs_dspy.utils.tables import markdown_table
from evidence_plan import Cell, Plan, PilotChoice
from evidence_runs import (EVIDENCE, by_method_of, compiled_program, finished_users, pilot_choice, plan_folder,
                           read_records, run_folder, shard_folders, unmerged_shards)

BEST_BASELINE = "the best baseline by SR@5 (ties: lower AT, then the order listed)"


def session_seconds(plan: Plan, root: Path = EVIDENCE) -> dict[tuple[str, str, str], float | None]:
    """(dataset, simulator, method) → seconds a session of it takes run afresh at the plan's own pace, from all
    its sessions so far, shards' included, each (method, user) once as ``pooled`` counts it: the first cell's in
    priority order, its own folder before its shards (``metrics.costs``: a call DSPy's cache answered is priced
    at the mean of the calls that reached the model; None where none did)."""
    sessions: dict[tuple[str, str, str], dict[tuple[str, str], SessionRecord]] = defaultdict(dict)
    for cell in plan.ordered_cells():
        for folder in (run_folder(plan, cell, root=root), *shard_folders(plan, cell, root)):
            for record in read_records(folder):
                sessions[(cell.dataset, cell.simulator, record.method)].setdefault(record.key, record)
    return {key: costs(list(records.values()))["seconds_per_session"] for key, records in sessions.items()}


def status_rows(plan: Plan, choice: PilotChoice | None, root: Path = EVIDENCE) -> list[dict]:
    seconds = session_seconds(plan, root)
    rows = []
    for cell in plan.ordered_cells():
        methods = cell.run_methods(choice)
        records = read_records(run_folder(plan, cell, root=root))
        done = finished_users(records, methods) if methods else []
        left = max(cell.users - len(done), 0)
        prices = [seconds.get((cell.dataset, cell.simulator, method)) for method in methods or []]
        hours = "0" if not left else "–" if not methods or None in prices else f"{left * sum(prices) / 3600:.1f}"
        rows.append({"cell": cell.name, "dataset": cell.dataset, "simulator": cell.simulator,
                     "methods": ", ".join(methods) if methods else ", ".join(cell.methods) + " (pilots unfinished)",
                     "users": f"{min(len(done), cell.users)} / {cell.users}", "sessions": len(records),
                     "errors": sum(r.status != "ok" for r in records),
                     "shards not merged": len(unmerged_shards(plan, cell, root)), "core-hours left": hours})
    return rows


HOURS_LEFT = ("core-hours left: the users a cell still lacks (merged ones counted) times a session of each of its "
              "methods at this plan's own pace (one LM thread a core, as its runs had it); – where a method has no "
              "session that reached the model yet; a compile cell's compiles come on top.")


def pooled(plan: Plan, cells: Sequence[Cell], choice: PilotChoice | None, root: Path) -> dict[str, list[SessionRecord]]:
    """The cells' sessions by method: of each cell, the users every method of it has a session of; each
    (method, user) once, the first cell's in priority order."""
    by_key: dict[tuple[str, str], SessionRecord] = {}
    for cell in cells:
        methods = cell.run_methods(choice) or []
        records = read_records(run_folder(plan, cell, root=root))
        kept = complete_users({m: [r for r in records if r.method == m] for m in methods})
        for record in (r for rs in kept.values() for r in rs):
            by_key.setdefault(record.key, record)
    return by_method_of(list(by_key.values()))


def _settings(plan: Plan, cells: Sequence[Cell], root: Path) -> dict:
    """max_turns and n_candidates as the cells' runs recorded them (the plan's before any run)."""
    for cell in cells:
        config = read_run_config(run_folder(plan, cell, root=root))
        if config:
            return {"max_turns": config["max_turns"], "n_candidates": config["n_candidates"], "code": config.get("code")}
    return {"max_turns": plan.max_turns, "n_candidates": AFIRSConfig.n_candidates, "code": None}


def compile_costs(plan: Plan, cells: Sequence[Cell], root: Path) -> list[dict]:
    rows = []
    for cell in cells:
        for spec in cell.compile:
            path = manifest_path(compiled_program(plan, cell, spec, root))
            if path.is_file():
                manifest = json.loads(path.read_text())
                scores = manifest["scores"]
                dev = {label: (scores.get(label) or {}).get("score") for label in ("before", "after")}
                rows.append({"program": spec.program, "optimizer": spec.optimizer,
                             "validation users": manifest["optimizer"].get("n_sessions"),
                             "minutes": f"{scores.get('seconds', 0) / 60:.1f}",
                             **{f"dev session score {label}": "–" if value is None else f"{value:.3f}"
                                for label, value in dev.items()}})
    return rows


def group_tables(plan: Plan, choice: PilotChoice | None, root: Path = EVIDENCE) -> dict[str, dict]:
    """Per dataset and simulator, the tables its pooled sessions make: title → summary."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in plan.ordered_cells():
        groups.setdefault((cell.dataset, cell.simulator), []).append(cell)
    tables = {}
    for (dataset, simulator), cells in groups.items():
        by_method = pooled(plan, cells, choice, root)
        settings = _settings(plan, cells, root)
        compiled = [spec.program for cell in cells for spec in cell.compile]
        for name, methods, baseline, rule in (
                ("Table 2: methods", ["afirs", *BASELINES], best_baseline(by_method, BASELINES, settings["max_turns"]),
                 BEST_BASELINE),
                ("Table 3: ablations", list(ABLATIONS), "afirs", "the full program"),
                ("compile effect", ["afirs", *compiled], "afirs", "the uncompiled program")):
            present = [m for m in methods if by_method.get(m)]
            if len(present) < 2 or baseline not in present:
                continue
            summary = build_summary(by_method, present, settings["max_turns"], settings["n_candidates"], baseline,
                                    plan.seed, rule)
            tables[f"{name} — {dataset}, {simulator} simulator"] = {
                "summary": summary, "code": settings["code"],
                "compile": compile_costs(plan, cells, root) if name == "compile effect" else []}
    return tables


def write_tables(plan: Plan, root: Path = EVIDENCE) -> Path:
    """tables.md and tables.json in the plan's results folder; returns the markdown's path."""
    choice = pilot_choice(plan, root)
    status, tables = status_rows(plan, choice, root), group_tables(plan, choice, root)
    parts = [f"# Evidence: plan {plan.name}", "",
             f"Commit measured: {plan.commit} (plan digest {plan.digest}); LM {plan.lm or 'embedded (local)'}"
             + (f", simulator LM {plan.sim_lm}" if plan.sim_lm else "") + f"; {plan.users} test users, seed "
             f"{plan.seed}. Built from the transcripts under this folder alone (`python bench/evidence.py tables`).",
             "", "## Cells, in priority order", "", markdown_table(status), "", HOURS_LEFT, ""]
    if choice:
        parts += [f"Pilots' choice (SR@5 over every pilot, ties: lower AT, then the order listed): "
                  f"{', '.join(choice.ranked)}; the strongest {choice.strongest}: "
                  f"{', '.join(choice.ranked[:choice.strongest])}.", ""]
    for title, table in tables.items():
        parts += [render_markdown(table["summary"], title).rstrip(), ""]
        if table["code"]:
            parts += [f"Code digest of the runs: {table['code']}.", ""]
        if table["compile"]:
            parts += ["What each compile cost (its own validation sessions):", "", markdown_table(table["compile"]), ""]
    folder = plan_folder(plan, root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tables.md").write_text("\n".join(parts))
    payload = {"plan": plan.name, "commit": plan.commit, "digest": plan.digest, "status": status,
               "pilot_choice": list(choice.ranked) if choice else None, "tables": tables}
    (folder / "tables.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    return folder / "tables.md"

