"""fmnist_rnn.evaluation against independent computations (tiny models, seconds)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_rnn import evaluation
from fmnist_rnn.models import two_layer_lstm
from fmnist_rnn.training import prepare


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("read", ["columns", "rows"])
def test_prefix_at_28_is_the_model_output(images, read) -> None:
    keras.utils.set_random_seed(1)
    model = two_layer_lstm(units=8, read=read)
    steps = evaluation.prefix_probabilities(model, images)
    assert steps.shape == (12, 28, 10)
    np.testing.assert_allclose(steps[:, -1], model.predict(prepare(images), verbose=0), atol=1e-5)
    # An earlier step is a different prediction: the prefix really is a prefix.
    assert not np.allclose(steps[:, 0], steps[:, -1])


def test_prefix_steps_follow_column_order(images) -> None:
    """Changing only the last column leaves the prefixes k < 28 unchanged (read=columns)."""
    keras.utils.set_random_seed(2)
    model = two_layer_lstm(units=8, read="columns")
    changed = images.copy()
    changed[:, :, -1] = 255 - changed[:, :, -1]
    a = evaluation.prefix_probabilities(model, images)
    b = evaluation.prefix_probabilities(model, changed)
    np.testing.assert_allclose(a[:, :27], b[:, :27], atol=1e-6)
    assert not np.allclose(a[:, 27], b[:, 27])


def test_per_class_accuracy_by_hand() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2, 9, 9])
    predicted = np.array([0, 1, 0, 1, 1, 0, 9, 2])
    expected = np.full(10, np.nan)
    expected[[0, 1, 2, 9]] = [2 / 3, 1.0, 0.0, 0.5]
    np.testing.assert_array_equal(evaluation.per_class_accuracy(labels, predicted), expected)


def test_most_confused_pairs_on_a_crafted_matrix() -> None:
    matrix = np.diag(np.full(10, 50))
    matrix[6, 0], matrix[0, 6] = 30, 12  # shirt <-> T-shirt: 42
    matrix[4, 2], matrix[2, 4] = 10, 25  # coat <-> pullover: 35
    matrix[9, 7] = 35  # ankle boot -> sneaker: 35, ties broken by index
    matrix[3, 1] = 1
    pairs = evaluation.most_confused_pairs(matrix, top=4)
    assert pairs == [(0, 6, 12, 30), (2, 4, 25, 10), (7, 9, 0, 35), (1, 3, 0, 1)]


def test_confident_mistakes_and_accuracy_by_prefix() -> None:
    probabilities = np.array(
        [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.95, 0.05]], dtype=np.float32
    )
    probabilities = np.pad(probabilities, ((0, 0), (0, 8)))
    labels = np.array([0, 0, 0, 1, 1])
    np.testing.assert_array_equal(
        evaluation.confident_mistakes(probabilities, labels, 5), [4, 1, 2]
    )
    steps = np.stack([probabilities[:, ::-1], probabilities], axis=1)  # (5, 2, 10)
    table = evaluation.accuracy_by_prefix(steps, labels)
    assert table.shape == (2, 11)
    np.testing.assert_allclose(table[1, [0, 1, 10]], [1 / 3, 1 / 2, 2 / 5])
