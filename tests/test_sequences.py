"""Scaling and the sequence views of an image batch."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist_rnn.sequences import (
    as_columns,
    as_image_tensor,
    as_pixels,
    as_rows,
    scale,
)


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


def test_scale(images: np.ndarray) -> None:
    scaled = scale(images)
    assert scaled.dtype == np.float32
    assert scaled.shape == images.shape
    np.testing.assert_allclose(scaled * 255.0, images.astype(np.float64), atol=1e-4)
    assert scale(np.array([[0, 255]] * 28, dtype=np.uint8).repeat(14, axis=1)).max() == 1.0


@pytest.mark.parametrize("bad", [np.zeros((5, 28, 28), np.float32), np.zeros((5, 28, 28), int)])
def test_scale_refuses_non_uint8(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"uint8 pixels of shape \(N, 28, 28\)"):
        scale(bad)


def test_scale_refuses_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        scale(np.zeros((5, 784), np.uint8))


def test_views(images: np.ndarray) -> None:
    x = scale(images)
    rows, cols, pixels, tensor = as_rows(x), as_columns(x), as_pixels(x), as_image_tensor(x)
    assert rows.shape == cols.shape == (5, 28, 28)
    assert pixels.shape == (5, 784, 1)
    assert tensor.shape == (5, 28, 28, 1)
    # Row t is the image's row t; column step t is the image's column t.
    np.testing.assert_array_equal(rows[2, 7], x[2, 7, :])
    np.testing.assert_array_equal(cols[2, 7], x[2, :, 7])
    np.testing.assert_array_equal(cols, np.swapaxes(rows, 1, 2))
    # Pixel view: the flattened image in reading order.
    np.testing.assert_array_equal(pixels[3, :, 0], x[3].flatten())
    assert pixels[3, 28 * 4 + 5, 0] == x[3, 4, 5]
    # The 4-D tensor is accepted back by every view.
    np.testing.assert_array_equal(as_columns(tensor), cols)


@pytest.mark.parametrize("view", [as_rows, as_columns, as_pixels, as_image_tensor])
def test_views_refuse_bad_input(view, images: np.ndarray) -> None:
    with pytest.raises(ValueError, match="float32"):
        view(images)  # raw uint8: not scaled
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        view(np.zeros((5, 28, 27), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        view(np.zeros((28, 28), np.float32))
