"""Which users get a session, in which order — and which test users development may never look at.

The test split is cut once, independently of any run's seed, into two pools:

- the **development slice**: the first ``DEVELOPMENT_USERS`` (200) users of the seed-0 permutation of the
  split (a third of a smaller split, so that a toy dataset keeps evidence users). Every benchmark run before
  the cut sampled a prefix of that order (at most 200: ``bench/stages.py``'s default), so the slice holds all
  of their users. Development benchmarks sample from it (``development_cases``), or from the validation split.
- the **evidence users**: the rest, in an order of their own (the pool's users sorted by row, permuted by the
  run's seed). Table 2, ``afirs-dspy eval``'s default and the evidence runs (``bench/evidence.py``) take them,
  so their users are ones no development benchmark ever sampled (``tests/test_held_out_users.py``).

``sample_cases`` takes the first ``n`` of a pool's order, so with the same seed a larger run extends a smaller
one; ``exclude`` drops users first (e.g. those a compiled program was compiled on), so the sample stays ``n``
long. ``Shard`` cuts a sample into deterministic, disjoint slices that together cover it, one per machine.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from afirs_dspy.data import PreparedDataset
from afirs_dspy.evaluation.simulator_base import SessionCase

DEVELOPMENT_USERS = 200
DEVELOPMENT_SEED = 0  # the order the benchmarks sampled before the cut; fixed, whatever a run's seed
POOLS = ("evidence", "development", "all")


def default_pool(split: str) -> str:
    """The test split's evidence users, or every user of another split (validation targets are never evidence)."""
    return "evidence" if split == "test" else "all"


def development_size(n_users: int) -> int:
    return min(DEVELOPMENT_USERS, n_users // 3)


def pool_order(n_users: int, pool: str, seed: int = 0) -> np.ndarray:
    """Row indices of a split of ``n_users`` rows in ``pool``, in the seed's order. ``all`` is the seeded
    permutation of every row; the development slice keeps its own order for seed 0 (so earlier benchmarks'
    samples stay prefixes) and is permuted by any other seed; the evidence users are permuted by the seed."""
    if pool not in POOLS:
        raise ValueError(f"unknown user pool {pool!r}; known: {', '.join(POOLS)}")
    if pool == "all":
        return np.random.default_rng(seed).permutation(n_users)
    cut = np.random.default_rng(DEVELOPMENT_SEED).permutation(n_users)
    size = development_size(n_users)
    if pool == "development":
        slice_ = cut[:size]
        return slice_ if seed == DEVELOPMENT_SEED else slice_[np.random.default_rng(seed).permutation(size)]
    evidence = np.sort(cut[size:])
    return evidence[np.random.default_rng(seed).permutation(len(evidence))]


def sample_cases(dataset: PreparedDataset, split: str = "test", n_sessions: int | None = None,
                 seed: int = 0, exclude: Collection[str] = (), users: str = "all") -> list[SessionCase]:
    """``n_sessions`` cases of ``split`` (all of them for None or 0) from the pool ``users`` (the development
    slice and the evidence users are pools of the test split), in the seed's order, none of a user in
    ``exclude``."""
    if users != "all" and split != "test":
        raise ValueError(f"the {users} users are a part of the test split, not of {split}")
    table = dataset.split(split)
    order = pool_order(len(table), users, seed)
    kept = ~table.user.astype(str).isin({str(user) for user in exclude}).to_numpy()
    order = order[kept[order]]
    if n_sessions:
        order = order[:n_sessions]
    rows = table.iloc[order]
    return [SessionCase(str(user), int(target), tuple(int(i) for i in history))
            for user, target, history in zip(rows.user, rows.target, rows.history)]


def development_cases(dataset: PreparedDataset, n_sessions: int, seed: int = 0, split: str = "test") -> list[SessionCase]:
    """What a development benchmark samples: the first ``n_sessions`` users of the test split's development slice
    (asking for more than it holds is an error: the validation split has more users), or of the validation split
    (``split="valid"``; 0: all of them)."""
    if split != "test":
        return sample_cases(dataset, split, n_sessions, seed)
    size = development_size(len(dataset.test))
    if not 0 < n_sessions <= size:
        raise ValueError(f"the development slice of {dataset.name}'s test split holds {size} users, not "
                         f"{n_sessions}: ask for fewer, or sample the validation split")
    return sample_cases(dataset, "test", n_sessions, seed, users="development")


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``: the sample's users at positions ``index - 1``, ``index - 1 +
    count``, …, so the slices are disjoint, cover the sample, and each keeps the sample's order."""

    index: int
    count: int

    def __post_init__(self):
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K/N needs 1 ≤ K ≤ N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ValueError(f"shard {text!r}: write K/N, e.g. 2/4 for the second of four slices") from None
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def of(self, cases: Sequence[SessionCase]) -> list[SessionCase]:
        return list(cases[self.index - 1::self.count])
