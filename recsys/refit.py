"""What the model that scores the test split trains on: the training sequences and the validation targets.

Hyper-parameters (the epoch count, the prior weights) are chosen on the validation split with a model
that never saw a validation target; the model then shipped (and scored on test) is trained again with
each validation target appended to its history, as the protocol allows: test targets are never seen.
Leave-one-out data: a user's training sequence is their validation history, so it grows by the
validation target into the test history. Window data (Steam): each validation history that is a
training sequence is replaced by the full validation window, and every other window is added.
"""
from __future__ import annotations

from collections import Counter

from afirs_dspy.data.tables import PreparedDataset


def refit_sequences(dataset: PreparedDataset) -> list[list[int]]:
    """The training sequences, with every validation history extended by its target (added where it
    was not a training sequence)."""
    windows = [list(history) + [int(target)] for history, target in zip(dataset.valid["history"],
                                                                         dataset.valid["target"])]
    extended = Counter(tuple(window[:-1]) for window in windows)
    kept = []
    for sequence in map(list, dataset.train["sequence"]):
        if extended[tuple(sequence)] > 0:  # a validation history: its full window replaces it
            extended[tuple(sequence)] -= 1
        else:
            kept.append(sequence)
    return kept + windows
