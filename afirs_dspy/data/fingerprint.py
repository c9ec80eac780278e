"""The data key: a digest of what preprocessing produced, which artifacts (tree, compiled programs, runs)
are bound to. Unlike the cache key it ignores file times, so copying or re-cloning the same data keeps
every artifact valid, while any change to the prepared tables invalidates them."""
from __future__ import annotations

import hashlib

from afirs_dspy.data.tables import PREPARED_TABLES, PreparedDataset


def data_key(dataset: PreparedDataset) -> str:
    digest = hashlib.sha256(dataset.name.encode())
    for name in PREPARED_TABLES:
        digest.update(getattr(dataset, name).to_json(orient="split", index=False).encode())
    return digest.hexdigest()
