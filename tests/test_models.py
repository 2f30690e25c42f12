"""fmnist_rnn.models: the two-layer LSTM as the book describes it (tiny inputs, seconds)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_rnn import models
from fmnist_rnn.models import get_builder, two_layer_lstm


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.random((6, 28, 28, 1), dtype=np.float32)
    x[:, :, :5] = 0.0  # blank columns, as in real images
    return x


def _shapes(model: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in model.get_weights()]


@pytest.mark.parametrize("read", models.READS)
def test_parameter_count_by_hand(read):
    def lstm(inputs: int, units: int) -> int:  # four gates, each W, U and b
        return 4 * (inputs * units + units * units + units)

    model = two_layer_lstm(read=read)
    assert model.count_params() == lstm(1, 128) + lstm(128, 128) + 128 * 10 + 10 == 199_434
    assert _shapes(model) == [
        (1, 512), (128, 512), (512,), (128, 512), (128, 512), (512,), (128, 10), (10,)
    ]  # fmt: skip


def test_the_lstms_keep_the_settings_cudnn_needs():
    """Keras runs LSTM on cuDNN when activation=tanh, recurrent_activation=sigmoid,
    recurrent_dropout=0, unroll=False and use_bias=True (keras.layers.LSTM docs)."""
    model = two_layer_lstm()
    for layer in (model.get_layer("per_line").layer, model.get_layer("image_lstm")):
        cell = layer.cell
        assert cell.activation is keras.activations.tanh
        assert cell.recurrent_activation is keras.activations.sigmoid
        assert cell.recurrent_dropout == 0 and not layer.unroll and cell.use_bias


def test_rows_read_the_transposed_image_like_columns(images):
    keras.utils.set_random_seed(3)
    columns = two_layer_lstm(read="columns")
    rows = two_layer_lstm(read="rows")
    rows.set_weights(columns.get_weights())
    transposed = np.ascontiguousarray(images.transpose(0, 2, 1, 3))
    np.testing.assert_allclose(np.asarray(rows(transposed)), np.asarray(columns(images)), atol=1e-6)
    assert not np.allclose(np.asarray(rows(images)), np.asarray(columns(images)), atol=1e-4)


def test_columns_reads_pixel_columns_top_to_bottom(images):
    """The first LSTM's sequence for (image 0, column 0) is image[0, :, 0]."""
    keras.utils.set_random_seed(4)
    model = two_layer_lstm(read="columns")
    lstm = keras.layers.LSTM(128)
    lstm(images[:1, :, 0])
    lstm.set_weights(model.get_weights()[:3])
    encoder = keras.Model(model.input, model.get_layer("per_line").output)
    np.testing.assert_allclose(
        np.asarray(encoder(images[:1]))[0, 3], np.asarray(lstm(images[:1, :, 3]))[0], atol=1e-6
    )


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="read"):
        two_layer_lstm(read="diagonal")
    with pytest.raises(ValueError, match="two_layer_lstm"):
        get_builder("no_such_model")
