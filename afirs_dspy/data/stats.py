"""Dataset statistics in the shape of the paper's Table 1, plus attribute counts."""
from __future__ import annotations

import numpy as np

from afirs_dspy.data.tables import PreparedDataset


def dataset_stats(dataset: PreparedDataset) -> dict:
    """One Table-1 row: users (or sessions, for window data), items, interactions, attributes."""
    report = dataset.report
    users = report["users"]
    per_item = dataset.items.attributes.map(len).to_numpy()
    test_history = dataset.test.history.map(len).to_numpy()
    return {
        "dataset": dataset.name,
        "users": users if users is not None else f"{len(dataset.test):,} test windows",
        "items": dataset.n_items,
        "interactions": report["interactions"],
        "density": report["interactions"] / (users * dataset.n_items) if users else None,
        "attributes": report["attributes"],
        "attributes/item": float(per_item.mean()),
        "items without attributes": int((per_item == 0).sum()),
        "mean test history": float(np.mean(test_history)),
    }
