"""Read-only resources that programs refer to (tree, catalog, recommender, embedder)."""
from __future__ import annotations


class SharedResource:
    """Deep copies return the object itself: DSPy deep-copies modules (loading state, optimizing),
    and a copy of a program should share these read-only resources, not duplicate a model or a catalog."""

    def __deepcopy__(self, memo: dict) -> SharedResource:
        return self
