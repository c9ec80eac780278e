"""An evidence plan's results and what they hold, under ``bench/results/evidence/<plan>/``:

    plan.json             the plan as first run: its digest binds every later run (``bind_plan``)
    <cell>/               one `afirs-dspy eval` run of the cell by the pinned code: run.json, transcript.jsonl
                          (gzipped to transcript.jsonl.gz past GZIP_ABOVE bytes), results.*
    <cell>/stamp.json     the plan (name, digest, commit) and shard the folder was run for
    <cell>/compiled/      the cell's compiled programs and their manifests
    <cell>/shard-KofN/    shard K of N of the cell, run on another machine; ``merge`` joins them into <cell>/
    tables.md, .json      built from the transcripts alone (``evidence_tables``)

The transcripts are read with this checkout's record classes; a field the pinned code wrote and this code
does not know is ignored.
"""
from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from afirs_dspy.evaluation.records import SessionRecord, TurnRecord, Usage
from afirs_dspy.evaluation.run_config import RUN_FILE, read_run_config, write_run_config
from afirs_dspy.evaluation.sampling import Shard
from afirs_dspy.evaluation.transcript import TRANSCRIPT
from afirs_dspy.utils.jsonl_file import append_line
from evidence_plan import Cell, CompileSpec, PilotChoice, Plan, PlanError, choose, plan_digest

EVIDENCE = Path(__file__).parent / "results" / "evidence"
GZIP_ABOVE = 1_000_000  # bytes; smaller transcripts stay plain text, which diffs well
PACKED = f"{TRANSCRIPT}.gz"
STAMP = "stamp.json"
PLAN_FILE = "plan.json"
# Settings that may differ between the shards of a cell: which slice, and the commit's name for the same code.
SHARD_KEYS = ("shard", "git_commit")


class MergeRefused(Exception):
    """Shards that are not slices of one run: other code, plan, programs or settings."""


def plan_folder(plan: Plan, root: Path = EVIDENCE) -> Path:
    return root / plan.name


def run_folder(plan: Plan, cell: Cell, shard: Shard | None = None, root: Path = EVIDENCE) -> Path:
    folder = plan_folder(plan, root) / cell.name
    return folder / f"shard-{shard.index}of{shard.count}" if shard else folder


def compiled_program(plan: Plan, cell: Cell, spec: CompileSpec, root: Path = EVIDENCE) -> Path:
    """Where a compile cell's program is compiled once, for every shard: ``<cell>/compiled/<program>.json``."""
    return run_folder(plan, cell, root=root) / "compiled" / f"{spec.program}.json"


def bind_plan(plan: Plan, source: Path, root: Path = EVIDENCE) -> None:
    """Keep the plan beside its results on the first run; refuse a plan edited since (a new plan is new)."""
    kept = plan_folder(plan, root) / PLAN_FILE
    if not kept.is_file():
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, kept)
    if plan_digest(json.loads(kept.read_text())) != plan.digest:
        raise PlanError(f"{source} differs from the plan its results were run with ({kept}): an edited plan is a "
                        "new plan; save it under a new name (bench/plans/<new name>.json)")


def stamp(folder: Path, plan: Plan, shard: Shard | None) -> None:
    """Record which plan and shard ``folder`` is run for; PlanError when it was run for another."""
    mark = {"plan": plan.name, "digest": plan.digest, "commit": plan.commit, "shard": str(shard) if shard else None}
    path = folder / STAMP
    if path.is_file():
        found = json.loads(path.read_text())
        if {k: found.get(k) for k in mark} != mark:
            raise PlanError(f"{folder} was run for {found}, not {mark}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mark, indent=1) + "\n")


def unpack(folder: Path) -> None:
    """Before a run appends to it: the gzipped transcript back to plain text."""
    packed, plain = folder / PACKED, folder / TRANSCRIPT
    if packed.is_file() and not plain.exists():
        plain.write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()


def pack(folder: Path) -> None:
    """After a run: a transcript past GZIP_ABOVE bytes gzipped (reproducibly: no time stamp in the file)."""
    plain = folder / TRANSCRIPT
    if plain.is_file() and plain.stat().st_size > GZIP_ABOVE:
        (folder / PACKED).write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
        plain.unlink()


def _known(cls, values: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def record_of(data: dict) -> SessionRecord:
    """A transcript line as a SessionRecord, fields this code does not know dropped."""
    def usage(values: dict) -> Usage:
        return Usage(**_known(Usage, values))

    turns = [TurnRecord(**{**_known(TurnRecord, turn), **{key: usage(turn[key]) for key in
                                                            ("program_usage", "simulator_usage") if key in turn}})
             for turn in data.get("turns", [])]
    extra = {"opener_usage": usage(data["opener_usage"])} if "opener_usage" in data else {}
    return SessionRecord(**{**_known(SessionRecord, data), "turns": turns, **extra})


def read_records(folder: Path) -> list[SessionRecord]:
    """The latest record of each (method, user) in ``folder``'s transcript (plain or gzipped), in file order."""
    packed, plain = folder / PACKED, folder / TRANSCRIPT
    if packed.is_file():
        text = gzip.decompress(packed.read_bytes()).decode()
    elif plain.is_file():
        text = plain.read_text(encoding="utf-8")
    else:
        return []
    latest = {}
    for line in text.splitlines():
        try:
            record = record_of(json.loads(line))
        except (ValueError, TypeError, KeyError):
            continue  # a line cut by a crash: eval runs that session again
        latest[record.key] = record
    return list(latest.values())


def finished_users(records: Iterable[SessionRecord], methods: Sequence[str]) -> list[str]:
    """The users with a finished ("ok") session of every method, in the order of their first record."""
    done: dict[str, set[str]] = {}
    for record in records:
        if record.status == "ok":
            done.setdefault(record.user, set()).add(record.method)
    return [user for user, finished in done.items() if set(methods) <= finished]


def by_method_of(records: Sequence[SessionRecord]) -> dict[str, list[SessionRecord]]:
    out: dict[str, list[SessionRecord]] = {}
    for record in records:
        out.setdefault(record.method, []).append(record)
    return out


def pilot_choice(plan: Plan, root: Path = EVIDENCE) -> PilotChoice | None:
    """The pilots' choice once every pilot cell has its users (None before, or without pilots)."""
    pilots = [cell for cell in plan.ordered_cells() if cell.pilot]
    if not pilots:
        return None
    records = []
    for cell in pilots:
        found = read_records(run_folder(plan, cell, root=root))
        if len(finished_users(found, cell.methods)) < cell.users:
            return None
        records += found
    return choose(plan, by_method_of(records))


def planned_users(cell: Cell, shard: Shard | None) -> int:
    """How many users the cell (or its shard's slice of them) runs."""
    return len(shard.of(range(cell.users))) if shard else cell.users


def shard_folders(plan: Plan, cell: Cell, root: Path = EVIDENCE) -> list[Path]:
    return sorted(p for p in run_folder(plan, cell, root=root).glob("shard-*") if (p / RUN_FILE).is_file())


def unmerged_shards(plan: Plan, cell: Cell, root: Path = EVIDENCE) -> list[Path]:
    """The cell's shard folders holding a finished session its own folder lacks."""
    merged = {r.key for r in read_records(run_folder(plan, cell, root=root)) if r.status == "ok"}
    return [folder for folder in shard_folders(plan, cell, root)
            if any(r.key not in merged for r in read_records(folder) if r.status == "ok")]


@dataclass
class Merged:
    folder: Path
    shards: list[str]
    sessions: int


def merge(plan: Plan, cell: Cell, root: Path = EVIDENCE) -> Merged | None:
    """Join the cell's shard folders (and what the cell's own folder holds) into the cell's folder, once they
    are shown to be slices of one run: the same plan, commit, code, program hashes and settings (MergeRefused
    says which differ). None when the cell has no shards."""
    shards = shard_folders(plan, cell, root)
    if not shards:
        return None
    target = run_folder(plan, cell, root=root)
    sources = [*([target] if (target / RUN_FILE).is_file() else []), *shards]
    configs = {folder: read_run_config(folder) for folder in sources}
    reference = {k: v for k, v in configs[shards[0]].items() if k not in SHARD_KEYS}
    for folder in sources:
        mark = json.loads((folder / STAMP).read_text()) if (folder / STAMP).is_file() else {}
        if (mark.get("digest"), mark.get("commit")) != (plan.digest, plan.commit):
            raise MergeRefused(f"{folder} was not run for plan {plan.name} at {plan.commit[:12]} "
                               f"(stamp {mark or 'missing'})")
        config = {k: v for k, v in configs[folder].items() if k not in SHARD_KEYS}
        differing = sorted(k for k in {*config, *reference} if config.get(k) != reference.get(k))
        if differing:
            raise MergeRefused(f"{folder} is not a slice of the run in {shards[0]}: {', '.join(differing)} differ")
    counts = {Shard.parse(configs[folder]["shard"]).count for folder in shards}
    if len(counts) > 1:
        raise MergeRefused(f"the shards of {cell.name} cut the users in different numbers of slices: {sorted(counts)}")
    hashes = reference["program_hashes"]
    records = {}
    for folder in sources:
        for record in read_records(folder):
            if record.program_hash != hashes.get(record.method):
                raise MergeRefused(f"{folder} holds a session of another program state: {record.method} "
                                   f"({record.program_hash or 'no hash'})")
            if record.key not in records or records[record.key].status != "ok":
                records[record.key] = record
    unpack(target)
    (target / TRANSCRIPT).unlink(missing_ok=True)
    for record in records.values():
        append_line(target / TRANSCRIPT, record.to_dict())
    pack(target)
    write_run_config(target, {**configs[shards[0]], "shard": None})
    (target / STAMP).write_text(json.dumps({"plan": plan.name, "digest": plan.digest, "commit": plan.commit,
                                            "shard": None, "merged": [p.name for p in shards]}, indent=1) + "\n")
    return Merged(target, [p.name for p in shards], len(records))
