"""FastLSTM and fast_two_layer_lstm against keras.layers.LSTM: outputs, gradients, training."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from fmnist_rnn.performance.fast_lstm import FastLSTM, fast_two_layer_lstm


def plain_two_layer_lstm(units: int = 128, read: str = "columns") -> keras.Model:
    """The book's model in plain Keras, written here independently of the package."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Permute((2, 1, 3))(inputs) if read == "columns" else inputs
    x = keras.layers.TimeDistributed(keras.layers.LSTM(units))(x)
    x = keras.layers.LSTM(units)(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.random((6, 28, 28, 1), dtype=np.float32)
    x[:, :, :5] = 0.0  # blank columns, as in real images
    x[:, :9] = 0.0  # blank rows at the top: leading blanks in every column
    return x


def test_weights_have_the_plain_models_order_and_shapes():
    plain, fast = plain_two_layer_lstm(), fast_two_layer_lstm()
    assert [w.shape for w in fast.get_weights()] == [w.shape for w in plain.get_weights()]
    assert fast.count_params() == plain.count_params() == 199_434


EQUIVALENT = [
    {"skip_blank": False},
    {"skip_blank": True},
    {"skip_blank": True, "chains": 2},
    {"skip_blank": False, "chains": 3},
]


@pytest.mark.parametrize("read", ["columns", "rows"])
@pytest.mark.parametrize("kwargs", EQUIVALENT, ids=lambda k: "-".join(map(str, k.values())))
def test_fast_model_gives_the_plain_models_outputs(read, kwargs, images):
    keras.utils.set_random_seed(1)
    plain = plain_two_layer_lstm(read=read)
    fast = fast_two_layer_lstm(read=read, **kwargs)
    fast.set_weights(plain.get_weights())
    np.testing.assert_allclose(np.asarray(fast(images)), np.asarray(plain(images)), atol=1e-5)
    plain.set_weights(fast.get_weights())  # and back


def test_dropout_between_the_lstms_keeps_the_weights_and_acts_in_training_only(images):
    from fmnist_rnn.models import two_layer_lstm

    keras.utils.set_random_seed(2)
    reference = plain_two_layer_lstm()
    expected = np.asarray(reference(images))
    for model in (two_layer_lstm(dropout=0.5), fast_two_layer_lstm(dropout=0.5)):
        model.set_weights(reference.get_weights())
        np.testing.assert_allclose(np.asarray(model(images)), expected, atol=1e-5)
        trained = np.asarray(model(images, training=True))
        assert np.abs(trained - expected).max() > 1e-3  # the dropout layer is in the model


def test_bfloat16_matmuls_stay_close(images):
    keras.utils.set_random_seed(2)
    plain, fast = plain_two_layer_lstm(), fast_two_layer_lstm(matmul_dtype="bfloat16")
    fast.set_weights(plain.get_weights())
    np.testing.assert_allclose(np.asarray(fast(images)), np.asarray(plain(images)), atol=2e-2)


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
        return tape.gradient(loss, [x, *layer.trainable_weights])

    expected, got = grads(reference), grads(fast)
    if skip:  # no gradient to the input (the layer reads data)
        assert got[0] is None
        expected, got = expected[1:], got[1:]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), atol=1e-5)


def test_fast_model_trains_like_the_plain_model():
    """Same function, same optimizer, same batches: the same weights after training."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    x[:, :6] = 0.0
    y = rng.integers(0, 10, 64)
    keras.utils.set_random_seed(0)
    start = plain_two_layer_lstm(units=8).get_weights()
    trained = []
    for model in (plain_two_layer_lstm(units=8), fast_two_layer_lstm(units=8, chains=2)):
        model.set_weights(start)
        model.compile(keras.optimizers.RMSprop(1e-3), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        trained.append(model.get_weights())
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(start, trained[0], strict=True)) > 1e-3
    for a, b in zip(*trained, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("chains", [0, -1, 1.5, "2", True])
def test_fast_lstm_rejects_bad_chains(chains):
    with pytest.raises(ValueError, match="chains"):
        FastLSTM(4, chains=chains)


def test_fast_model_saves_and_loads(tmp_path, images):
    model = fast_two_layer_lstm(units=8, chains=2)
    path = tmp_path / "fast.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(images)), np.asarray(model(images)), atol=1e-6)


def test_unknown_read_raises():
    with pytest.raises(ValueError, match="read"):
        fast_two_layer_lstm(read="diagonals")
