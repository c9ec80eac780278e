"""Held-out users (issue 32): the test split is cut once into a development slice and the evidence users; every
development benchmark's default sample lies in the slice (or in the validation split), never among the
evidence users that Table 2, ``afirs-dspy eval``'s default and the evidence runs take."""
from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.evaluation.eval_run import EvalRun, EvalSettings
from afirs_dspy.evaluation.sampling import DEVELOPMENT_USERS, Shard, development_cases, sample_cases

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
# Each samples users through its own ``users(dataset, args)``, with the defaults of its ``arguments()``.
DEVELOPMENT_BENCHES = ("questions", "stages", "turn_cost", "candidate_hit_rate", "speakable_attributes",
                       "memory_sessions", "code_change")
# They sample the validation split only (conversations.py also runs in a worktree of code older than the cut).
VALIDATION_BENCHES = ("conversations",)
# Table 2 and 3, the compile effect and the pinned evidence runs: they take the evidence users by design.
EVIDENCE_BENCHES = ("interactive", "compile_effect", "evidence")
# The real datasets' test users (ml-latest-small, Steam windows, Beauty) and a toy-sized split.
SIZES = (603, 1194, 1340, 12)


def split_of(n_users: int) -> PreparedDataset:
    """A dataset whose splits have ``n_users`` users (target i + 1, one item of history); nothing else."""
    def table(offset: int) -> pd.DataFrame:
        return pd.DataFrame({"user": [f"u{i}" for i in range(n_users)], "history": [[1]] * n_users,
                             "target": [i + offset for i in range(n_users)]})

    return PreparedDataset(f"synthetic-{n_users}", pd.DataFrame(), pd.DataFrame(), table(2), table(1), {})


def evidence_cases(dataset: PreparedDataset) -> set:
    return set(sample_cases(dataset, "test", 0, users="evidence"))


@pytest.mark.parametrize("n_users", SIZES)
def test_the_pools_cut_the_test_split_once_whatever_the_seed(n_users):
    dataset = split_of(n_users)
    everyone = sample_cases(dataset, "test", 0, seed=0)
    size = min(DEVELOPMENT_USERS, n_users // 3)
    # The slice is the first users of seed 0's order: every sample the benchmarks drew before the cut.
    assert sample_cases(dataset, "test", 0, seed=0, users="development") == everyone[:size]
    for seed in (0, 1, 7):
        development = sample_cases(dataset, "test", 0, seed, users="development")
        evidence = sample_cases(dataset, "test", 0, seed, users="evidence")
        assert set(development) == set(everyone[:size]) and set(evidence) == set(everyone[size:])
    assert sample_cases(dataset, "test", 5, 1, users="evidence") != sample_cases(dataset, "test", 5, 2, users="evidence")


def test_development_cases_refuse_more_than_the_slice_and_take_any_number_of_validation_users():
    dataset = split_of(603)
    assert len(development_cases(dataset, DEVELOPMENT_USERS)) == DEVELOPMENT_USERS
    with pytest.raises(ValueError, match="holds 200 users, not 201: ask for fewer, or sample the validation split"):
        development_cases(dataset, DEVELOPMENT_USERS + 1)
    assert len(development_cases(dataset, 0, split="valid")) == 603
    with pytest.raises(ValueError, match="part of the test split"):
        sample_cases(dataset, "valid", 3, users="evidence")


@pytest.mark.parametrize("bench", DEVELOPMENT_BENCHES)
def test_no_development_benchmark_samples_an_evidence_user_by_default(bench):
    module = importlib.import_module(bench)
    args = module.arguments().parse_args([])
    for n_users in SIZES[:3]:
        dataset = split_of(n_users)
        sampled = module.users(dataset, args)
        assert sampled and not set(sampled) & evidence_cases(dataset), f"{bench} samples evidence users"


def test_every_benchmark_that_samples_users_says_which_pool():
    # a sample drawn, an evaluation run in-process, or `afirs-dspy eval` called
    samplers = re.compile(r"\b(sample_cases|development_cases|EvalRun|EvalSettings)\(|\beval_command\b|\"eval\"")
    sampling = {path.stem for path in BENCH.glob("*.py") if samplers.search(path.read_text())}
    assert sampling - {*DEVELOPMENT_BENCHES, *VALIDATION_BENCHES, *EVIDENCE_BENCHES} == set()
    for bench in VALIDATION_BENCHES:
        calls = re.findall(r"sample_cases\(([^)]*)\)", (BENCH / f"{bench}.py").read_text())
        assert calls and all(call.split(",")[1].strip() == '"valid"' for call in calls), bench


def test_eval_takes_the_evidence_users_unless_told_otherwise():
    dataset = split_of(603)
    default = EvalRun(EvalSettings(n_sessions=30), dataset).cases(set())
    assert set(default) <= evidence_cases(dataset) and len(default) == 30
    development = EvalRun(EvalSettings(n_sessions=30, users="development"), dataset).cases(set())
    assert not set(development) & evidence_cases(dataset)
    valid = EvalRun(EvalSettings(n_sessions=0, split="valid"), dataset).cases(set())
    assert len(valid) == 603


def test_shards_are_disjoint_slices_that_cover_the_sample_in_its_order():
    cases = sample_cases(split_of(603), "test", 30, users="evidence")
    shards = [Shard(k, 4).of(cases) for k in range(1, 5)]
    assert sorted((c for s in shards for c in s), key=cases.index) == cases
    assert sum(map(len, shards)) == 30 and all(s == sorted(s, key=cases.index) for s in shards)
    assert Shard.parse("2/4") == Shard(2, 4) and str(Shard(2, 4)) == "2/4"
    assert EvalRun(EvalSettings(n_sessions=30, shard="3/4"), split_of(603)).cases(set()) == shards[2]
    for bad in ("0/4", "5/4", "2-4", "x/y"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
