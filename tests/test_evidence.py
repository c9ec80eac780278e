"""bench/evidence.py (issue 34): plans, the priority of cells, runs resumed and limited in time, shards merged
only when they are slices of one run, and tables rebuilt from the transcripts alone — on the toy world, with
`afirs-dspy eval` and `compile` run in-process where the real run starts the pinned checkout's."""
from __future__ import annotations

import copy
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from afirs_dspy.cli import main as cli
from afirs_dspy.evaluation.records import SessionRecord, Usage
from afirs_dspy.evaluation.transcript import TRANSCRIPT, Transcript
from afirs_dspy.evaluation.sampling import Shard
from test_eval_significance import _session
from test_optimize_cli import toy  # noqa: F401 (fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import evidence  # noqa: E402
import evidence_runs  # noqa: E402
import evidence_tables  # noqa: E402
from evidence_checkout import CheckoutError, PinnedCode, checkout  # noqa: E402
from evidence_plan import PlanError, choose, load_plan  # noqa: E402

COMMIT = "a" * 40
PLAN = {
    "format": 1, "commit": COMMIT, "seed": 0, "max_turns": 5,
    "pilot": {"datasets": ["ml-latest-small"], "methods": ["no-llm2rs", "no-refine"], "users": 2, "strongest": 1},
    "cells": [
        {"name": "1-ablations", "dataset": "ml-latest-small", "methods": ["afirs", "no-llm2rs"], "users": 3},
        {"name": "3-strongest", "dataset": "ml-latest-small", "methods": ["@strongest"], "users": 3},
        {"name": "5-compile", "dataset": "ml-latest-small", "methods": ["afirs"],
         "compile": [{"optimizer": "bootstrap", "n_sessions": 2}], "users": 2},
    ],
}


def write_plan(folder: Path, data: dict, name: str = "toy-plan") -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


class InProcess:
    """Runs the pinned code's commands as this checkout's CLI in this process, and keeps what it ran."""

    def __init__(self):
        self.ran: list[list[str]] = []

    def __call__(self, command: list[str]) -> int:
        arguments = command[command.index("afirs_dspy.cli") + 1:]
        self.ran.append(arguments)
        result = CliRunner().invoke(cli, arguments)
        assert result.exit_code == 0, result.output
        return result.exit_code

    def cells(self) -> list[tuple[str, str]]:
        """(command, folder) of each command run."""
        return [(a[0], Path(a[a.index("--out") + 1]).name) for a in self.ran]


def run(plan: Path, root: Path, *options: str, execute=None, capsys=None) -> str:
    evidence.main(["run", "--plan", str(plan), *options], execute=execute or InProcess(),
                  code=PinnedCode(COMMIT, "toy", Path("python")), root=root)
    return capsys.readouterr().out if capsys else ""


def test_a_plan_is_checked_and_its_pilots_run_first(tmp_path):
    plan = load_plan(write_plan(tmp_path, PLAN))
    assert plan.name == "toy-plan" and plan.pinned and len(plan.digest) == 16
    assert [c.name for c in plan.ordered_cells()] == ["0-pilot-ml-latest-small", "1-ablations", "3-strongest", "5-compile"]
    assert plan.cell("5-compile").compile[0].program == "afirs-bootstrap"
    for change, says in [({"cells": [{**PLAN["cells"][0], "users": 0}]}, "cells[0].users must be a positive"),
                         ({"pilot": None}, "name the pilots' choice, but there is no pilot"),
                         ({"cells": [PLAN["cells"][0], PLAN["cells"][0]]}, "cell names must differ"),
                         ({"cells": [{**PLAN["cells"][0], "methods": ["@worst"]}]}, "unknown references ['@worst']"),
                         ({"cells": [{**PLAN["cells"][0], "name": "../x"}]}, "must be a folder name"),
                         ({"extra": 1}, "unknown keys ['extra']"), ({"format": 2}, "\"format\": 1")]:
        with pytest.raises(PlanError, match=re.escape(says)):
            load_plan(write_plan(tmp_path, {**PLAN, **change}, "bad"))


# What each pinned plan's commit must hold, by a marker in its source: the conversation and simulator work
# (issues 31, 32), from plan 2 the baselines bounded for the embedded model (issue 33), from plan 3 the extraction
# that proposes nothing by the words of a name said as it stands and ReAct's one-line answer to invalid arguments.
CONVERSATION_AND_SIMULATOR = {"programs/session_memory.py": "critiqued",
                              "afirs_dspy/evaluation/attribute_simulator.py": "min_open_items"}
PINNED_WORK = {
    "evidence-1": CONVERSATION_AND_SIMULATOR,
    "evidence-2": {**CONVERSATION_AND_SIMULATOR, "programs/attribute_search.py": "max_named", "programs/macrec.py": "searched"},
    "evidence-3": {**CONVERSATION_AND_SIMULATOR, "programs/attribute_search.py": "max_named", "programs/macrec.py": "searched",
                   "programs/preference_extractor.py": "unnamed", "programs/react_agent.py": "AgentTool"},
}


@pytest.mark.parametrize("name", sorted(PINNED_WORK))
def test_the_plans_follow_the_issues_priority_and_are_pinned_after_the_work_they_measure(name):
    plan = load_plan(Path(evidence.__file__).parent / "plans" / f"{name}.json")
    assert plan.pinned and plan.users == "evidence" and plan.pilot.users == 5 and plan.pilot.strongest == 3
    assert len(plan.pilot.methods) == 7 and plan.pilot.datasets == ("ml-latest-small", "steam")
    cells = plan.ordered_cells()
    assert [c.name[0] for c in cells] == list("00123333456")
    assert [c.users for c in cells] == [5, 5, 30, 30, 30, 30, 10, 10, 20, 30, 20]
    assert cells[8].simulator == "llm" and [s.optimizer for s in cells[9].compile] == ["bootstrap", "mipro-light"]
    assert plan.artifacts_dir == f"artifacts/{name}"  # never rebuilt by development
    repo = Path(evidence.__file__).resolve().parents[1]
    known = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{plan.commit}^{{commit}}"], capture_output=True)
    if known.returncode == 0:  # (a shallow clone may lack it)
        for path, marker in PINNED_WORK[name].items():
            source = subprocess.run(["git", "-C", str(repo), "show", f"{plan.commit}:{path}"], capture_output=True,
                                    text=True, check=True).stdout
            assert marker in source, path


def test_the_pilots_choose_the_strongest_by_sr5_then_at_then_order(tmp_path):
    plan = load_plan(write_plan(tmp_path, {**PLAN, "pilot": {**PLAN["pilot"], "methods": ["x", "y", "z"]}}))
    records = {"x": [_session("1", 3, "x")], "y": [_session("1", 1, "y")], "z": [_session("1", None, "z")]}
    choice = choose(plan, records)
    assert choice.ranked == ("y", "x", "z")
    assert choice.resolve(["afirs", "@strongest"]) == ["afirs", "y"] and choice.resolve(["@others"]) == ["x", "z"]
    assert choose(plan, {"z": records["z"]}).ranked == ("z", "x", "y")  # no sessions: last, in the order listed


def test_a_run_takes_the_cells_in_priority_order_resumes_and_writes_the_tables(toy, tmp_path, capsys):  # noqa: F811
    plan = write_plan(tmp_path, {**PLAN, "artifacts_dir": str(toy)})
    root = tmp_path / "evidence"
    execute = InProcess()
    assert "every cell has its users" in run(plan, root, execute=execute, capsys=capsys)
    assert execute.cells() == [("eval", "0-pilot-ml-latest-small"), ("eval", "1-ablations"), ("eval", "3-strongest"),
                               ("compile", "afirs-bootstrap.json"), ("eval", "5-compile")]
    pilot, strongest, compiled = execute.ran[0], execute.ran[2], execute.ran[4]
    assert pilot[pilot.index("--method") + 1] == "no-llm2rs,no-refine" and "--resume" in pilot
    assert pilot[pilot.index("--users") + 1] == "evidence" and pilot[pilot.index("--n-sessions") + 1] == "2"
    assert compiled[compiled.index("--program") + 1].endswith("5-compile/compiled/afirs-bootstrap.json")
    folder = root / "toy-plan"
    assert json.loads((folder / "plan.json").read_text())["commit"] == COMMIT
    assert json.loads((folder / "1-ablations" / "stamp.json").read_text())["digest"] == load_plan(plan).digest
    tables = (folder / "tables.md").read_text()
    for part in ("| 1-ablations | ml-latest-small | attribute | afirs, no-llm2rs | 3 / 3 |",
                 "## Table 3: ablations — ml-latest-small, attribute simulator", "users needed SR@5",
                 "Pilots' choice", "## compile effect — ml-latest-small", "What each compile cost"):
        assert part in tables, part
    choice = json.loads((folder / "tables.json").read_text())["pilot_choice"]
    assert sorted(choice) == ["no-llm2rs", "no-refine"] and strongest[strongest.index("--method") + 1] == choice[0]

    again = InProcess()
    assert "every cell has its users" in run(plan, root, execute=again, capsys=capsys) and again.ran == []
    before = (folder / "tables.md").read_text()
    evidence.main(["tables", "--plan", str(plan)], root=root)
    assert (folder / "tables.md").read_text() == before  # from the transcripts alone, the same tables


def test_a_time_limit_stops_before_the_next_cell_and_an_edited_plan_is_refused(toy, tmp_path, capsys):  # noqa: F811
    plan = write_plan(tmp_path, {**PLAN, "artifacts_dir": str(toy)})
    root = tmp_path / "evidence"
    execute = InProcess()
    assert "time limit reached before 0-pilot-ml-latest-small" in run(plan, root, "--time-limit", "0",
                                                                       execute=execute, capsys=capsys)
    assert execute.ran == []
    edited = copy.deepcopy(PLAN)
    edited["cells"][0]["users"] = 4
    with pytest.raises(SystemExit, match="an edited plan is a new plan"):
        run(write_plan(tmp_path, {**edited, "artifacts_dir": str(toy)}), root)


def test_shards_are_merged_only_when_they_share_plan_code_and_programs(toy, tmp_path, capsys):  # noqa: F811
    data = {"format": 1, "commit": COMMIT, "artifacts_dir": str(toy),
            "cells": [{"name": "1-ablations", "dataset": "ml-latest-small", "methods": ["afirs", "no-refine"], "users": 4}]}
    plan_path, root = write_plan(tmp_path, data), tmp_path / "evidence"
    for shard in ("1/2", "2/2"):
        execute = InProcess()
        assert "every cell has its users" in run(plan_path, root, "--shard", shard, execute=execute, capsys=capsys)
        assert execute.ran[0][execute.ran[0].index("--shard") + 1] == shard
    plan = load_plan(plan_path)
    cell = plan.cells[0]
    shards = [evidence_runs.run_folder(plan, cell, Shard(k, 2), root) for k in (1, 2)]
    users = [{r.user for r in evidence_runs.read_records(folder)} for folder in shards]
    assert len(users[0]) == len(users[1]) == 2 and not users[0] & users[1]

    assert [row["shards not merged"] for row in evidence_tables.status_rows(plan, None, root)] == [2]
    config = json.loads((shards[1] / "run.json").read_text())
    (shards[1] / "run.json").write_text(json.dumps({**config, "code": "other code"}))
    with pytest.raises(SystemExit, match="code differ"):
        evidence.main(["merge", "--plan", str(plan_path)], root=root)
    (shards[1] / "run.json").write_text(json.dumps(config))
    lines = (shards[1] / "transcript.jsonl").read_text().splitlines()
    foreign = json.loads(lines[0]) | {"program_hash": "0123456789abcdef"}
    (shards[1] / "transcript.jsonl").write_text("\n".join([json.dumps(foreign), *lines[1:]]) + "\n")
    with pytest.raises(SystemExit, match="another program state"):
        evidence.main(["merge", "--plan", str(plan_path)], root=root)
    (shards[1] / "transcript.jsonl").write_text("\n".join(lines) + "\n")

    evidence.main(["merge", "--plan", str(plan_path)], root=root)
    assert "8 sessions from shard-1of2, shard-2of2" in capsys.readouterr().out
    merged = evidence_runs.run_folder(plan, cell, root=root)
    assert {r.user for r in evidence_runs.read_records(merged)} == users[0] | users[1]
    assert json.loads((merged / "run.json").read_text())["shard"] is None
    assert "| 1-ablations | ml-latest-small | attribute | afirs, no-refine | 4 / 4 | 8 | 0 | 0 |" in \
        (root / "toy-plan" / "tables.md").read_text()


def test_the_status_prices_the_users_a_cell_lacks_at_the_runs_own_pace(tmp_path):
    data = {"format": 1, "commit": COMMIT, "cells": [
        {"name": "1-ablations", "dataset": "ml-latest-small", "methods": ["afirs", "no-refine"], "users": 4},
        {"name": "2-other", "dataset": "ml-latest-small", "methods": ["afirs", "zero-shot"], "users": 2}]}
    plan, root = load_plan(write_plan(tmp_path, data)), tmp_path / "evidence"
    cell = plan.cells[0]

    def session(user: str, method: str, model_calls: int, seconds: float, lm_calls: int = 2) -> SessionRecord:
        record = _session(user, 1, method)  # one turn
        record.turns[0].program_usage = Usage(lm_calls=lm_calls, model_calls=model_calls, seconds=seconds)
        return record

    # afirs: 30 s a call that reached the model, a cached session priced as run afresh: (2 + 4) calls · 30 s over
    # 2 sessions, each once though the shard holds user 2's again (counted twice: 100 s); no-refine 90 s a call,
    # priced from a shard's session too; zero-shot: every call cached, no price.
    for folder, records in ((evidence_runs.run_folder(plan, cell, root=root),
                             [session("1", "afirs", 2, 60), session("1", "no-refine", 0, 0),
                              session("2", "afirs", 0, 0, lm_calls=4)]),
                            (evidence_runs.run_folder(plan, cell, Shard(1, 2), root),
                             [session("3", "no-refine", 1, 90), session("2", "afirs", 0, 0, lm_calls=4)]),
                            (evidence_runs.run_folder(plan, plan.cells[1], root=root), [session("1", "zero-shot", 0, 0)])):
        folder.mkdir(parents=True)
        (folder / "run.json").write_text("{}")
        for record in records:
            Transcript(folder / TRANSCRIPT).append(record)
    assert evidence_tables.session_seconds(plan, root)[("ml-latest-small", "attribute", "afirs")] == 90
    rows = evidence_tables.status_rows(plan, None, root)
    # 1 of 4 users has both methods: 3 users × (90 + 180) s
    assert [(row["users"], row["core-hours left"]) for row in rows] == [("1 / 4", "0.2"), ("0 / 2", "–")]


def test_large_transcripts_are_gzipped_and_read_with_fields_this_code_does_not_know(tmp_path, monkeypatch):
    record = _session("7", 2, "afirs").to_dict() | {"a_field_of_later_code": 1}
    record["turns"][0]["another"] = "x"
    (tmp_path / "transcript.jsonl").write_text(json.dumps(record) + "\n" + '{"cut": ')
    monkeypatch.setattr(evidence_runs, "GZIP_ABOVE", 10)
    evidence_runs.pack(tmp_path)
    assert not (tmp_path / "transcript.jsonl").exists()
    assert gzip.decompress((tmp_path / "transcript.jsonl.gz").read_bytes()).startswith(b'{"method": "afirs"')
    [read] = evidence_runs.read_records(tmp_path)
    assert isinstance(read, SessionRecord) and read.user == "7" and read.success_turn == 2
    evidence_runs.unpack(tmp_path)
    assert (tmp_path / "transcript.jsonl").is_file() and not (tmp_path / "transcript.jsonl.gz").exists()
    assert evidence_runs.planned_users(load_plan(write_plan(tmp_path, PLAN)).cells[0], Shard(2, 2)) == 1


def test_the_pinned_commit_is_checked_out_into_its_own_worktree_and_confirmed(tmp_path):
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.txt").write_text("pinned")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pinned"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()

    def fake_install(root: Path) -> Path:  # an "interpreter" that says which code it imports
        python = root / "fake-python"
        python.write_text(f"#!/bin/sh\necho {commit} 0123456789abcdef {root}\n")
        python.chmod(0o755)
        return python

    pinned = checkout(commit, repo, tmp_path / "worktrees", installer=fake_install)
    root = tmp_path / "worktrees" / commit[:12]
    assert (root / "a.txt").read_text() == "pinned" and pinned.code == "0123456789abcdef"
    assert pinned.command("eval", "--resume") == [str(root / "fake-python"), "-P", "-m", "afirs_dspy.cli", "eval",
                                                  "--resume"]
    with pytest.raises(CheckoutError, match="runs the code of commit"):
        checkout("b" * 40, repo, python=root / "fake-python")
    (root / "a.txt").write_text("edited")
    with pytest.raises(CheckoutError, match="has uncommitted changes"):
        checkout(commit, repo, python=root / "fake-python")
