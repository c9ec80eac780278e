"""Padding and batching of item sequences."""
import numpy as np
import pytest

from afirs_dspy.recsys.batches import bucketed_batches, flatten, left_pad, trim_padding
from afirs_dspy.recsys.trainer import training_array, windows_of


def test_left_pad_keeps_the_newest_items_at_the_right():
    padded = left_pad([[1, 2, 3], [], [4, 5, 6, 7, 8], np.array([9])], 4)
    assert padded.tolist() == [[0, 1, 2, 3], [0, 0, 0, 0], [5, 6, 7, 8], [0, 0, 0, 9]]
    assert padded.dtype == np.int64
    assert left_pad([], 3).shape == (0, 3)


def test_trim_padding_drops_shared_leading_padding_only():
    assert trim_padding(np.array([[0, 0, 1, 2], [0, 0, 0, 3]])).tolist() == [[1, 2], [0, 3]]
    assert trim_padding(np.zeros((2, 4), dtype=np.int64)).shape == (2, 1)


def test_flatten():
    flat, lengths = flatten([[3, 1], [], [2]])
    assert flat.tolist() == [3, 1, 2] and lengths.tolist() == [2, 0, 1]


def test_bucketed_batches_cover_every_row_once_and_group_lengths():
    lengths = np.arange(100) % 7
    batches = bucketed_batches(lengths, batch_size=10, rng=np.random.default_rng(0), bucket_batches=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(100))
    # One bucket holds everything here, so each batch spans at most two adjacent lengths.
    assert all(np.ptp(lengths[b]) <= 1 for b in batches)
    again = bucketed_batches(lengths, batch_size=10, rng=np.random.default_rng(0), bucket_batches=10)
    assert all((a == b).all() for a, b in zip(batches, again))


@pytest.mark.parametrize("length", [1, 2, 4, 5, 6, 9, 11, 23])
def test_windows_make_every_item_after_the_first_a_target_once(length):
    sequence, max_len = list(range(1, length + 1)), 4
    windows = windows_of(sequence, max_len)
    assert all(2 <= len(w) <= max_len + 1 for w in windows)
    assert sorted(t for w in windows for t in w[1:]) == sequence[1:]
    assert all(w == sequence[sequence.index(w[0]):sequence.index(w[0]) + len(w)] for w in windows)  # contiguous
    assert len(training_array([sequence], max_len, windows=True)) == len(windows)
    assert len(training_array([sequence], max_len)) == (length >= 2)  # without windows: the newest only
