"""Behaviour of fmnist_rnn.models and fmnist_rnn.fast_lstm (tiny inputs, seconds)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from fmnist_rnn import models
from fmnist_rnn.fast_lstm import FastLSTM
from fmnist_rnn.models import get_builder, two_layer_lstm

PARAMS_128 = 199_434


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.random((6, 28, 28, 1), dtype=np.float32)
    x[:, :, :5] = 0.0  # blank columns, as in real images
    return x


def _shapes(model: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in model.get_weights()]


@pytest.mark.parametrize("implementation", models.IMPLEMENTATIONS)
@pytest.mark.parametrize("read", models.READS)
def test_parameter_count_and_output(implementation, read, images):
    model = two_layer_lstm(read=read, implementation=implementation)
    assert model.count_params() == PARAMS_128
    probs = np.asarray(model(images))
    assert probs.shape == (6, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_implementations_hold_the_same_weights_in_the_same_order():
    reference = _shapes(two_layer_lstm())
    assert reference == [
        (1, 512),
        (128, 512),
        (512,),
        (128, 512),
        (128, 512),
        (512,),
        (128, 10),
        (10,),
    ]
    for implementation in models.IMPLEMENTATIONS:
        assert _shapes(two_layer_lstm(implementation=implementation)) == reference


EQUIVALENT = [
    {"implementation": "fast"},
    {"implementation": "fast", "skip_blank": True},
    {"implementation": "fast", "skip_blank": True, "chains": 2},
    {"implementation": "fast", "chains": 3},
    {"implementation": "keras_rnn_cell"},
]


@pytest.mark.parametrize("read", models.READS)
@pytest.mark.parametrize("kwargs", EQUIVALENT, ids=lambda k: "-".join(map(str, k.values())))
def test_equivalent_implementations_give_equal_outputs(read, kwargs, images):
    keras.utils.set_random_seed(1)
    faithful = two_layer_lstm(read=read)
    other = two_layer_lstm(read=read, **kwargs)
    other.set_weights(faithful.get_weights())
    np.testing.assert_allclose(np.asarray(other(images)), np.asarray(faithful(images)), atol=1e-5)
    # and back: weights trained in one load into the other
    faithful.set_weights(other.get_weights())


def test_bfloat16_matmuls_stay_close(images):
    keras.utils.set_random_seed(2)
    faithful = two_layer_lstm()
    fast = two_layer_lstm(implementation="fast", matmul_dtype="bfloat16")
    fast.set_weights(faithful.get_weights())
    np.testing.assert_allclose(np.asarray(fast(images)), np.asarray(faithful(images)), atol=2e-2)


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


@pytest.mark.parametrize("chains", [1, 2, 4])
@pytest.mark.parametrize("skip", [False, True], ids=["all_steps", "skip_leading_blank"])
def test_fast_lstm_gradients_match_keras(skip, chains):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 7, 3)).astype(np.float32)
    for j, blank in enumerate([0, 7, 7, 3, 1, 0, 6, 2, 4]):  # leading blank steps
        x[j, :blank] = 0.0
    x = tf.constant(x)
    reference, fast = keras.layers.LSTM(4), FastLSTM(4, skip_leading_blank=skip, chains=chains)
    reference(x)
    fast(x)
    reference.set_weights([2.0 * w for w in reference.get_weights()])
    fast.set_weights(reference.get_weights())

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(3.0 * layer(x)))
        return [x, *layer.trainable_weights], tape.gradient(loss, [x, *layer.trainable_weights])

    (_, expected), (_, got) = grads(reference), grads(fast)
    if skip:  # no gradient to the input (the layer reads data)
        assert got[0] is None
        expected, got = expected[1:], got[1:]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=1e-5)


@pytest.mark.parametrize("chains", [0, -1, 1.5, "2"])
def test_fast_lstm_rejects_bad_chains(chains):
    with pytest.raises(ValueError, match="chains"):
        FastLSTM(4, chains=chains)


def test_chains_need_the_fast_implementation():
    with pytest.raises(ValueError, match="only to implementation='fast'"):
        two_layer_lstm(chains=2)


def test_fast_model_saves_and_loads(tmp_path, images):
    model = two_layer_lstm(implementation="fast", chains=2)
    path = tmp_path / "fast.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(model(images)), atol=1e-6)


def test_keras_lstm_keeps_cudnn_compatible_settings():
    from keras.src.backend.tensorflow.rnn import _do_lstm_arguments_support_cudnn

    model = two_layer_lstm()
    for layer in (model.get_layer("per_line").layer, model.get_layer("image_lstm")):
        assert _do_lstm_arguments_support_cudnn(
            activation=layer.cell.activation,
            recurrent_activation=layer.cell.recurrent_activation,
            unroll=layer.unroll,
            use_bias=layer.cell.use_bias,
        )


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="read"):
        two_layer_lstm(read="diagonal")
    with pytest.raises(ValueError, match="implementation"):
        two_layer_lstm(implementation="cuda")
    with pytest.raises(ValueError, match="matmul_dtype"):
        FastLSTM(8, matmul_dtype="float16")
    with pytest.raises(ValueError, match="skip_blank"):
        two_layer_lstm(skip_blank=True)
    with pytest.raises(ValueError, match="two_layer_lstm"):
        get_builder("no_such_model")


def test_registry():
    assert get_builder("two_layer_lstm") is two_layer_lstm

    def tiny() -> keras.Model:
        return two_layer_lstm(units=4)

    models.register_builder("tiny_test", tiny)
    try:
        assert get_builder("tiny_test") is tiny
        with pytest.raises(ValueError, match="already registered"):
            models.register_builder("tiny_test", two_layer_lstm)
    finally:
        models.BUILDERS.pop("tiny_test")
