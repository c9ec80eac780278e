"""Which users get a session, in which order: a seeded permutation of the split's users.

The first ``n`` of the permutation are taken, so with the same seed a larger run extends a smaller one.
``exclude`` drops users first (e.g. those a compiled program was compiled on), so the sample stays ``n`` long.
"""
from __future__ import annotations

from collections.abc import Collection

import numpy as np

from afirs_dspy.data import PreparedDataset
from afirs_dspy.evaluation.simulator_base import SessionCase


def sample_cases(dataset: PreparedDataset, split: str = "test", n_sessions: int | None = None,
                 seed: int = 0, exclude: Collection[str] = ()) -> list[SessionCase]:
    """``n_sessions`` cases of ``split`` (all of them for None or 0), in the seed's order, none of a user in
    ``exclude``."""
    table = dataset.split(split)
    order = np.random.default_rng(seed).permutation(len(table))
    kept = ~table.user.astype(str).isin({str(user) for user in exclude}).to_numpy()
    order = order[kept[order]]
    if n_sessions:
        order = order[:n_sessions]
    rows = table.iloc[order]
    return [SessionCase(str(user), int(target), tuple(int(i) for i in history))
            for user, target, history in zip(rows.user, rows.target, rows.history)]
