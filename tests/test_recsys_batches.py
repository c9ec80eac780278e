"""Padding and batching of item sequences."""
import numpy as np

from afirs_dspy.recsys.batches import bucketed_batches, flatten, left_pad, trim_padding


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
