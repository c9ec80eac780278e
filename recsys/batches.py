"""Turning item-index sequences into left-padded arrays (0 = padding)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """All items of all sequences in one int64 array, and each sequence's length."""
    arrays = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    return flat, lengths


def left_pad(sequences: Sequence[Sequence[int]], length: int) -> np.ndarray:
    """An int64 array (len(sequences), length): each row ends with the last ``length`` items of its sequence.

    Left padding puts every sequence's newest item in the last column, which is
    where the model reads the user state from.
    """
    flat, lengths = flatten(sequences)
    out = np.zeros((len(lengths), length), dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    cols = length - lengths[rows] + within
    keep = cols >= 0
    out[rows[keep], cols[keep]] = flat[keep]
    return out


def trim_padding(padded: np.ndarray) -> np.ndarray:
    """Drop the leading columns that are padding in every row (keeps at least one column)."""
    occupied = np.flatnonzero(padded.any(axis=0))
    start = occupied[0] if occupied.size else padded.shape[1] - 1
    return padded[:, start:]


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                     bucket_batches: int = 16) -> list[np.ndarray]:
    """Row indices for one epoch: shuffled, then sorted by length within groups of
    ``bucket_batches`` batches, so each batch holds similar lengths and little padding."""
    order = rng.permutation(len(lengths))
    group = batch_size * bucket_batches
    for start in range(0, len(order), group):
        chunk = order[start:start + group]
        order[start:start + group] = chunk[np.argsort(lengths[chunk], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
