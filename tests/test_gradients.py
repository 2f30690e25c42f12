"""Tests of fmnist_rnn.gradients against answers computed independently (NumPy, closed forms)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from fmnist_rnn.gradients import (
    GradientNormHistory,
    GradientNormModel,
    per_step_ratio,
    set_forget_bias,
    set_recurrent_spectral_radius,
    spectral_radius,
    state_gradient_norms,
)

BATCH, STEPS, FEATURES, UNITS = 2, 6, 3, 4


@pytest.fixture
def inputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)


def linear_cell(recurrent: np.ndarray) -> keras.layers.SimpleRNNCell:
    """A SimpleRNN cell with identity activation and the given recurrent matrix."""
    cell = keras.layers.SimpleRNNCell(UNITS, activation=None, dtype="float64")
    cell.build((None, FEATURES))
    cell.recurrent_kernel.assign(recurrent)
    return cell


def weighted_sum(weights: np.ndarray):
    """Loss sum_n h_n . w, whose gradient with respect to every h_n is w."""
    return lambda h: tf.reduce_sum(h * weights)


@pytest.mark.parametrize("a", [0.5, 0.9, 1.3])
def test_linear_rnn_with_scaled_identity_shrinks_by_a_per_step(inputs, a):
    weights = np.arange(1.0, UNITS + 1)
    norms = state_gradient_norms(linear_cell(a * np.eye(UNITS)), inputs, weighted_sum(weights))
    assert set(norms) == {"h"}
    assert norms["h"].shape == (STEPS,)
    np.testing.assert_allclose(norms["h"][:-1] / norms["h"][1:], a, rtol=1e-6)
    # Closed form: dL/dh_t = a^(T-1-t) w for each of the N examples.
    expected = a ** np.arange(STEPS - 1, -1, -1) * np.sqrt(BATCH) * np.linalg.norm(weights)
    np.testing.assert_allclose(norms["h"], expected, rtol=1e-6)
    assert per_step_ratio(norms["h"]) == pytest.approx(a, rel=1e-6)


def test_per_step_ratio_skips_underflowed_or_overflowed_steps():
    norms = 0.5 ** np.arange(6.0, -1.0, -1.0)  # 0.5^6 .. 0.5^0
    assert per_step_ratio(norms) == pytest.approx(0.5)
    assert per_step_ratio(np.r_[0.0, np.inf, norms]) == pytest.approx(0.5)
    assert np.isnan(per_step_ratio(np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="at least two"):
        per_step_ratio(np.ones(1))


def test_tiny_gradients_do_not_underflow_in_the_norm():
    # 0.01^80 = 1e-160: representable in float64, but its square is not.
    a, steps = 0.01, 80
    x = np.ones((1, steps, FEATURES), np.float32)
    norms = state_gradient_norms(linear_cell(a * np.eye(UNITS)), x, weighted_sum(np.ones(UNITS)))
    expected = a ** np.arange(steps - 1, -1, -1) * np.sqrt(UNITS)
    np.testing.assert_allclose(norms["h"], expected, rtol=1e-6)


def test_linear_rnn_matches_numpy_backpropagation_through_time(inputs):
    rng = np.random.default_rng(1)
    recurrent = rng.normal(size=(UNITS, UNITS))
    weights = rng.normal(size=UNITS)
    norms = state_gradient_norms(linear_cell(recurrent), inputs, weighted_sum(weights))
    # Keras computes h_t = x_t K + h_{t-1} W (row vectors), so dL/dh_{t-1} = dL/dh_t W^T.
    grad = np.tile(weights, (BATCH, 1))
    expected = [np.linalg.norm(grad)]
    for _ in range(STEPS - 1):
        grad = grad @ recurrent.T
        expected.insert(0, np.linalg.norm(grad))
    np.testing.assert_allclose(norms["h"], expected, rtol=1e-6)


def test_tanh_rnn_with_spectral_radius_below_one_decreases_monotonically(inputs):
    keras.utils.set_random_seed(0)
    cell = keras.layers.SimpleRNNCell(UNITS)  # orthogonal init: singular values = radius
    cell.build((None, FEATURES))
    set_recurrent_spectral_radius(cell, 0.8)
    norms = state_gradient_norms(cell, inputs, lambda h: tf.reduce_mean(h**2))["h"]
    assert np.all(norms > 0)
    assert np.all(np.diff(norms) > 0)  # larger the closer to the loss (t = T-1)
    assert np.all(norms[:-1] / norms[1:] <= 0.8 + 1e-6)  # bound: sigma_max * max tanh' = 0.8


def test_lstm_reports_hidden_and_cell_state_gru_only_hidden(inputs):
    keras.utils.set_random_seed(0)
    loss = lambda h: tf.reduce_mean(h)  # noqa: E731
    lstm = state_gradient_norms(keras.layers.LSTMCell(UNITS), inputs, loss)
    gru = state_gradient_norms(keras.layers.GRUCell(UNITS), inputs, loss)
    assert set(lstm) == {"h", "c"} and set(gru) == {"h"}
    for norms in (*lstm.values(), gru["h"]):
        assert norms.shape == (STEPS,)
        assert np.all(np.isfinite(norms)) and np.all(norms > 0)


@pytest.mark.parametrize(
    "shape", [(STEPS, FEATURES), (BATCH, STEPS, FEATURES, 1), (BATCH, 0, FEATURES), (0, 3, 1)]
)
def test_bad_input_shapes_raise_value_error(shape):
    cell = keras.layers.SimpleRNNCell(UNITS)
    with pytest.raises(ValueError, match=r"\(N, T, D\)|at least one"):
        state_gradient_norms(cell, np.zeros(shape, np.float32), tf.reduce_sum)


def test_non_scalar_loss_raises_value_error(inputs):
    with pytest.raises(ValueError, match="scalar"):
        state_gradient_norms(keras.layers.SimpleRNNCell(UNITS), inputs, lambda h: h)


def test_set_recurrent_spectral_radius_matches_numpy_eigenvalues():
    keras.utils.set_random_seed(0)
    layer = keras.layers.SimpleRNN(UNITS, recurrent_initializer="glorot_uniform")
    layer.build((None, STEPS, FEATURES))
    before = np.asarray(layer.cell.recurrent_kernel)
    sigma = set_recurrent_spectral_radius(layer, 1.5)
    after = np.asarray(layer.cell.recurrent_kernel, dtype=np.float64)
    assert np.max(np.abs(np.linalg.eigvals(after))) == pytest.approx(1.5, rel=1e-5)
    assert spectral_radius(after) == pytest.approx(1.5, rel=1e-5)
    assert sigma == pytest.approx(np.linalg.svd(after, compute_uv=False)[0], rel=1e-6)
    np.testing.assert_allclose(after / before, after[0, 0] / before[0, 0], rtol=1e-5)


def test_spectral_radius_rejects_gated_and_unbuilt_cells():
    lstm = keras.layers.LSTMCell(UNITS)
    with pytest.raises(ValueError, match="build"):
        set_recurrent_spectral_radius(lstm, 1.0)
    lstm.build((None, FEATURES))
    with pytest.raises(ValueError, match="square"):
        set_recurrent_spectral_radius(lstm, 1.0)
    with pytest.raises(ValueError, match="positive"):
        set_recurrent_spectral_radius(lstm, 0.0)


def test_set_forget_bias_touches_only_the_forget_gate():
    lstm = keras.layers.LSTMCell(UNITS)
    lstm.build((None, FEATURES))
    before = np.asarray(lstm.bias).copy()
    set_forget_bias(lstm, 3.0)
    after = np.asarray(lstm.bias)
    np.testing.assert_array_equal(after[UNITS : 2 * UNITS], 3.0)
    np.testing.assert_array_equal(
        np.delete(after, np.s_[UNITS : 2 * UNITS]), np.delete(before, np.s_[UNITS : 2 * UNITS])
    )
    with pytest.raises(ValueError, match="LSTMCell"):
        set_forget_bias(keras.layers.GRUCell(UNITS), 1.0)


def tiny_model() -> GradientNormModel:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((STEPS, FEATURES))
    outputs = keras.layers.Dense(3)(keras.layers.SimpleRNN(UNITS)(inputs))
    return GradientNormModel(inputs, outputs)


@pytest.mark.parametrize("clip", [None, 1e-3])
def test_gradient_norm_history_records_raw_norm_and_loss_of_each_step(inputs, clip):
    x = np.concatenate([inputs] * 3)  # 6 examples, 3 batches of 2
    y = np.array([0, 1, 2, 0, 1, 2])
    model = tiny_model()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:  # the first step's gradient, computed independently
        first_loss = loss_fn(y[:BATCH], model(x[:BATCH]))
    grads = tape.gradient(first_loss, model.trainable_weights)
    first_norm = np.sqrt(sum(np.sum(np.square(g)) for g in grads))
    before = [np.asarray(w).copy() for w in model.trainable_weights]

    learning_rate = 0.1
    model.compile(keras.optimizers.SGD(learning_rate, global_clipnorm=clip), loss_fn)
    history = GradientNormHistory()
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[history])

    assert history.grad_norms.shape == history.losses.shape == (3,)
    assert history.grad_norms[0] == pytest.approx(first_norm, rel=1e-5)  # before clipping
    assert history.losses[0] == pytest.approx(float(first_loss), rel=1e-5)
    if clip is not None:  # three clipped SGD steps move the weights by at most 3 * lr * clip
        step = np.sqrt(
            sum(
                np.sum((np.asarray(w) - b) ** 2)
                for w, b in zip(model.trainable_weights, before, strict=True)
            )
        )
        assert step <= 3 * learning_rate * clip * (1 + 1e-5)


def test_gradient_norm_history_needs_a_gradient_norm_model(inputs):
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.SimpleRNN(UNITS)])
    model.compile("sgd", "mse")
    with pytest.raises(KeyError, match="GradientNormModel"):
        model.fit(inputs, np.zeros((BATCH, UNITS)), verbose=0, callbacks=[GradientNormHistory()])


def test_epoch_loss_is_the_batch_size_weighted_mean_of_batch_losses(inputs):
    x = np.concatenate([inputs] * 3)[:5]  # batches of 2, 2 and 1 examples
    y = np.array([0, 1, 2, 0, 1])
    model = tiny_model()
    model.compile(
        keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    history = GradientNormHistory()
    fit = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[history])
    expected = np.average(history.losses, weights=[2, 2, 1])
    assert fit.history["loss"][0] == pytest.approx(expected, rel=1e-5)
