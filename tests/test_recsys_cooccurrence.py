"""Item co-occurrence: cosine of the items' sequence-incidence vectors, and recency-weighted history scores."""
import numpy as np
import pytest

from afirs_dspy.recsys.cooccurrence import Cooccurrence

SEQUENCES = [[1, 2, 3], [2, 3], [3, 4, 4], [5]]


def test_similarity_is_the_cosine_of_incidence_vectors():
    similarity = Cooccurrence.from_sequences(SEQUENCES, 5).similarity.toarray()
    incidence = np.zeros((len(SEQUENCES), 6))
    for row, sequence in enumerate(SEQUENCES):
        incidence[row, sequence] = 1  # an item twice in a sequence counts once
    counts = incidence.T @ incidence
    norms = np.sqrt(np.maximum(np.diag(counts), 1))
    expected = counts / np.outer(norms, norms)
    np.fill_diagonal(expected, 0)  # an item is not its own neighbour
    np.testing.assert_allclose(similarity, expected, rtol=1e-6)
    assert similarity[2, 3] == pytest.approx(2 / np.sqrt(2 * 3)) and not similarity[0].any()


def test_history_scores_weight_recent_items_and_scale_to_one():
    near = Cooccurrence.from_sequences(SEQUENCES, 5)
    similarity = near.similarity.toarray()
    scores = near.scores([[1, 4], [5], []], decay=0.5)
    expected = 0.5 * similarity[1] + similarity[4]  # 4 is the newest item, 1 one step back
    np.testing.assert_allclose(scores[0], expected / expected.max(), rtol=1e-6)
    assert scores[0].max() == pytest.approx(1.0) and scores.dtype == np.float32
    assert not scores[1].any() and not scores[2].any()  # no neighbours, no history: all 0
    undecayed = near.scores([[1, 4]], decay=1.0)[0]
    np.testing.assert_allclose(undecayed, (similarity[1] + similarity[4]) / (similarity[1] + similarity[4]).max(),
                               rtol=1e-6)
