"""Synthetic catalogs and datasets of any size, for tests and the tool-latency benchmark."""
from __future__ import annotations

import numpy as np
import pandas as pd

from afirs_dspy.data.tables import PreparedDataset
from afirs_dspy.recsys.item_index import ItemIndex


def synthetic_index(n_items: int, n_keys: int, seed: int = 0) -> ItemIndex:
    """Keys "k0".."k{n_keys-1}"; key j holds a random ~1/(j+2) share of the items,
    so a few keys are broad (like genres) and most are narrow (like tree leaves)."""
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, (n_items / (np.arange(n_keys) + 2)).astype(np.int64))
    items = np.concatenate([rng.choice(n_items, size, replace=False) + 1 for size in sizes])
    keys = np.repeat(np.array([f"k{j}" for j in range(n_keys)], dtype=object), sizes)
    return ItemIndex(keys, items, n_items)


def synthetic_dataset(n_users: int = 200, n_items: int = 60, length: int = 12, seed: int = 0,
                      name: str = "synthetic") -> PreparedDataset:
    """Leave-one-out data with a learnable rule: each user walks forward through the
    items from a random start (i, i+1, i+2, ... wrapping round), so the next item is
    always the successor of the last. Items carry attributes "even"/"odd" and "low"/"high"."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_items, n_users)
    sequences = (starts[:, None] + np.arange(length)) % n_items + 1
    idx = np.arange(1, n_items + 1)
    items = pd.DataFrame({
        "idx": idx,
        "item_id": [f"i{i}" for i in idx],
        "title": [f"Item {i}" for i in idx],
        "description": "",
        "attributes": [["even" if i % 2 == 0 else "odd", "low" if i <= n_items // 2 else "high"] for i in idx],
    })
    users = [f"u{u}" for u in range(n_users)]
    rows = [list(s) for s in sequences]
    return PreparedDataset(
        name=name,
        items=items,
        train=pd.DataFrame({"user": users, "sequence": [r[:-2] for r in rows]}),
        valid=pd.DataFrame({"user": users, "history": [r[:-2] for r in rows], "target": [r[-2] for r in rows]}),
        test=pd.DataFrame({"user": users, "history": [r[:-1] for r in rows], "target": [r[-1] for r in rows]}),
        report={"data_key": f"synthetic-{n_users}-{n_items}-{length}-{seed}"},
    )
