"""ReNet: patches, sweeps that see exactly a column (then the whole image), size, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_rnn.models import get_builder
from fmnist_rnn.renet import renet, to_patches


def test_patches_hold_the_pixels_of_each_square() -> None:
    x = np.random.default_rng(0).random((2, 28, 28, 3)).astype(np.float32)
    inputs = keras.Input((28, 28, 3))
    patches = keras.Model(inputs, to_patches(inputs, 2, "p"))(x).numpy()
    assert patches.shape == (2, 14, 14, 12)
    for i, j in [(0, 0), (0, 13), (5, 7), (13, 2)]:
        square = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2, :].reshape(2, -1)
        np.testing.assert_array_equal(patches[:, i, j], square)


def test_patches_must_tile_the_map() -> None:
    with pytest.raises(ValueError, match="does not split into 3x3 patches"):
        to_patches(keras.Input((28, 28, 1)), 3, "p")


def test_parameter_count_by_hand() -> None:
    def bilstm(inputs: int, units: int) -> int:
        return 2 * 4 * (inputs * units + units * units + units)

    expected = (
        bilstm(4, 32)
        + bilstm(64, 32)  # layer 1: 2x2 patches of 1 channel, 2*32 out
        + bilstm(4 * 64, 64)
        + bilstm(128, 64)  # layer 2: 2x2 patches of 64 channels
        + 7 * 7 * 128 * 10
        + 10  # classifier on the 7x7x128 map
    )
    assert renet().count_params() == expected
    assert get_builder("renet") is renet


def test_vertical_sweep_sees_one_column_horizontal_sweep_the_image() -> None:
    keras.utils.set_random_seed(0)
    model = renet()
    vertical = keras.Model(model.input, model.get_layer("renet1_vertical").output)
    horizontal = keras.Model(model.input, model.get_layer("renet1_horizontal").output)
    x = np.zeros((1, 28, 28, 1), np.float32)
    y = x.copy()
    y[0, 0, 7, 0] = 1.0  # top row, pixel column 7: patch column 3
    dv = np.abs(vertical(y).numpy() - vertical(x).numpy()).max(axis=(0, 3))  # (cols, rows)
    assert (dv[3] > 0).all(), "every patch of column 3 hears the change (both directions)"
    assert np.delete(dv, 3, axis=0).max() == 0.0, "no other column does"
    dh = np.abs(horizontal(y).numpy() - horizontal(x).numpy()).max(axis=(0, 3))  # (rows, cols)
    assert (dh > 0).all(), "after the horizontal sweep every patch has heard it"


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        renet(units=())
    with pytest.raises(ValueError, match="does not split"):
        renet(units=(8, 8, 8))  # 28 -> 14 -> 7 -> 3.5
