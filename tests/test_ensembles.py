"""fmnist_rnn.ensembles against hand-computed averages (tiny Keras models, seconds)."""

from __future__ import annotations

import keras
import matplotlib
import numpy as np
import pytest

from fmnist_rnn import ensembles
from fmnist_rnn.data import Splits
from fmnist_rnn.training import prepare

matplotlib.use("Agg")


def _constant_model(probabilities: list[float]) -> keras.Model:
    """A model that answers ``probabilities`` for every image (softmax of fixed logits)."""
    inputs = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(len(probabilities), activation="softmax")
    outputs = dense(flat)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((28 * 28, len(probabilities)), dtype="float32")
    dense.set_weights([kernel, np.log(np.asarray(probabilities, dtype="float32"))])
    return model


def _splits(labels_val: list[int], labels_test: list[int]) -> Splits:
    rng = np.random.default_rng(0)

    def images(n: int) -> np.ndarray:
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)

    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    return Splits(
        x_train=empty,
        y_train=np.zeros(0, dtype=np.uint8),
        x_val=images(len(labels_val)),
        y_val=np.asarray(labels_val, dtype=np.uint8),
        x_test=images(len(labels_test)),
        y_test=np.asarray(labels_test, dtype=np.uint8),
    )


def test_average_is_the_mean_of_the_members() -> None:
    rng = np.random.default_rng(1)
    members = [rng.dirichlet(np.ones(10), size=7) for _ in range(3)]
    average = ensembles.average_probabilities(members)
    assert average.shape == (7, 10)
    np.testing.assert_allclose(average, (members[0] + members[1] + members[2]) / 3)
    np.testing.assert_array_equal(ensembles.average_probabilities(members[:1]), members[0])


@pytest.mark.parametrize(
    "members, message",
    [
        ([], "at least one member"),
        ([np.ones((4, 10)), np.ones((5, 10))], "shapes"),
        ([np.ones(10)], "shapes"),
    ],
)
def test_average_rejects_bad_members(members, message) -> None:
    with pytest.raises(ValueError, match=message):
        ensembles.average_probabilities(members)


def test_a_confident_member_outweighs_an_unsure_one() -> None:
    unsure = _constant_model([0.6, 0.4, 0.0 + 1e-6])  # says class 0, barely
    sure = _constant_model([0.05, 0.95 - 1e-6, 1e-6])  # says class 1, firmly
    splits = _splits(labels_val=[0, 1, 1], labels_test=[0, 0])
    model_output = unsure.predict(prepare(splits.x_val), verbose=0)
    np.testing.assert_allclose(model_output[:, 0], 0.6, atol=1e-5)
    table = ensembles.ensemble_accuracies(
        {"unsure": unsure, "sure": sure}, [("unsure",), ("sure",), ("unsure", "sure")], splits
    )
    assert list(table) == ["unsure", "sure", "unsure + sure"]
    # The average (0.325, 0.675, ...) picks class 1, as the sure member does.
    assert table["unsure"] == pytest.approx({"val": 1 / 3, "test": 1.0})
    assert table["sure"] == pytest.approx({"val": 2 / 3, "test": 0.0})
    assert table["unsure + sure"] == table["sure"]


def test_unknown_member_is_a_clear_error() -> None:
    splits = _splits([0], [0])
    with pytest.raises(KeyError, match="unknown members \\['rows'\\]"):
        ensembles.ensemble_accuracies({"columns": _constant_model([1.0])}, [("rows",)], splits)


def test_plot_has_one_bar_per_model_and_part() -> None:
    table = {"a": {"val": 0.9, "test": 0.89}, "a + b": {"val": 0.92, "test": 0.915}}
    fig = ensembles.plot_ensembles(table, target=0.92)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "a + b"]
    assert ax.get_xlabel() == "accuracy" and ax.get_title()
