"""The NumPy LSTM of :mod:`fmnist_rnn.cells` against Keras's own LSTM, and by hand.

Also :func:`fmnist_rnn.gradients.lstm_cell`, which chapter 3's gradient experiment builds on.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fmnist_rnn.cells import lstm_forward, lstm_step, sigmoid, split_gates
from fmnist_rnn.gradients import lstm_cell

TOLERANCE = 1e-5


def random_weights(rng: np.random.Generator, d: int, units: int, scale: float = 0.6):
    """Random kernel, recurrent kernel and bias, large enough to drive the gates off 0.5."""
    return [
        rng.normal(0.0, scale, size).astype(np.float32)
        for size in ((d, 4 * units), (units, 4 * units), (4 * units,))
    ]


def keras_lstm(x, weights, initial_state=None):
    """Keras's LSTM with the given weights: (sequence, final h, final c) as NumPy."""
    units = weights[1].shape[0]
    layer = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    layer.build(x.shape)
    layer.set_weights(weights)
    return [np.asarray(a) for a in layer(x, initial_state=initial_state)]


@pytest.mark.parametrize(
    ("batch", "steps", "d", "units", "with_state"),
    [
        (1, 1, 1, 1, False),
        (1, 1, 1, 1, True),
        (3, 5, 4, 2, False),
        (2, 12, 3, 7, True),
        (8, 28, 28, 16, False),
        (5, 28, 28, 16, True),
        (4, 60, 1, 5, True),
    ],
)
def test_matches_keras_lstm(batch, steps, d, units, with_state):
    rng = np.random.default_rng(batch * 1000 + steps * 10 + units)
    x = rng.normal(0.0, 1.0, (batch, steps, d)).astype(np.float32)
    weights = random_weights(rng, d, units)
    h0 = c0 = None
    if with_state:
        h0 = rng.uniform(-1.0, 1.0, (batch, units)).astype(np.float32)
        c0 = rng.normal(0.0, 2.0, (batch, units)).astype(np.float32)
    sequence, h_last, c_last = keras_lstm(x, weights, [h0, c0] if with_state else None)

    out = lstm_forward(x, *weights, h0=h0, c0=c0)

    for name in ("h", "c", "i", "f", "g", "o"):
        assert out[name].shape == (batch, steps, units), name
    np.testing.assert_allclose(out["h"], sequence, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(out["h"][:, -1], h_last, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(out["c"][:, -1], c_last, rtol=0, atol=TOLERANCE)


def test_matches_keras_with_its_default_initialisation():
    """Keras's own initial weights (orthogonal recurrent kernel, forget bias 1)."""
    x = np.random.default_rng(1).uniform(0.0, 1.0, (6, 28, 28)).astype(np.float32)
    layer = keras.layers.LSTM(10, return_sequences=True, return_state=True)
    sequence, h_last, c_last = (np.asarray(a) for a in layer(x))
    out = lstm_forward(x, *layer.get_weights())
    np.testing.assert_allclose(out["h"], sequence, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(out["c"][:, -1], c_last, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(out["h"][:, -1], h_last, rtol=0, atol=TOLERANCE)


def test_keras_forget_bias_sits_in_the_second_block():
    layer = keras.layers.LSTM(5)
    layer.build((None, 3, 2))
    blocks = split_gates(layer.get_weights()[2])
    np.testing.assert_array_equal(blocks["f"], np.ones(5))
    for gate in ("i", "g", "o"):
        np.testing.assert_array_equal(blocks[gate], np.zeros(5))


def test_constant_gates_follow_the_closed_form():
    """With zero kernels every gate is its bias squashed, and c_t is a geometric series.

    Also pins the column order i, f, g, o: each bias block sets one gate.
    """
    units, steps = 3, 7
    b = {"i": 0.3, "f": 1.5, "g": -0.4, "o": -0.8}
    bias = np.concatenate([np.full(units, b[gate]) for gate in ("i", "f", "g", "o")])
    c0 = np.array([[0.5, -1.0, 2.0]])
    out = lstm_forward(
        np.ones((1, steps, 2)), np.zeros((2, 4 * units)), np.zeros((units, 4 * units)), bias, c0=c0
    )
    i, f, o = 1 / (1 + np.exp(-np.array([b["i"], b["f"], b["o"]])))
    g = np.tanh(b["g"])
    np.testing.assert_allclose(out["i"], i)
    np.testing.assert_allclose(out["f"], f)
    np.testing.assert_allclose(out["g"], g)
    np.testing.assert_allclose(out["o"], o)
    t = np.arange(1, steps + 1)[:, None]
    c = f**t * c0 + i * g * (1 - f**t) / (1 - f)  # c_t = f^t c_0 + i g (1 + f + ... + f^(t-1))
    np.testing.assert_allclose(out["c"][0], c)
    np.testing.assert_allclose(out["h"][0], o * np.tanh(c))


def test_forward_is_the_step_repeated():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    weights = random_weights(rng, 3, 2)
    out = lstm_forward(x, *weights)
    step = lstm_step(x[:, 2], out["h"][:, 1], out["c"][:, 1], *weights)
    for name, value in step.items():
        np.testing.assert_allclose(value, out[name][:, 2], err_msg=name)
    first = lstm_step(x[:, 0], None, None, *weights)  # None: the zero initial state
    for name, value in first.items():
        np.testing.assert_allclose(value, out[name][:, 0], err_msg=name)


def test_lstm_cell_sets_only_the_forget_bias():
    cell = lstm_cell(4, 3, forget_bias=2.5)
    blocks = split_gates(np.asarray(cell.bias))
    np.testing.assert_array_equal(blocks["f"], np.full(4, 2.5))
    for gate in ("i", "g", "o"):
        np.testing.assert_array_equal(blocks[gate], np.zeros(4))
    # with a zero input and state, the forget gate sits at sigmoid(2.5)
    out = lstm_forward(np.zeros((1, 1, 3)), *cell.get_weights())
    np.testing.assert_allclose(out["f"], 1 / (1 + np.exp(-2.5)), rtol=1e-6)


def test_sigmoid_is_stable_and_exact():
    z = np.array([-1000.0, -5.0, 0.0, 2.0, 1000.0])
    with np.errstate(all="raise"):
        s = sigmoid(z)
    np.testing.assert_allclose(s[1:4], 1 / (1 + np.exp(-z[1:4])), rtol=1e-14)
    assert s[0] == 0.0 and s[-1] == 1.0


def _weights(d=3, units=2):
    return random_weights(np.random.default_rng(0), d, units)


@pytest.mark.parametrize(
    "change",
    [
        {"x": np.zeros((2, 3))},  # no time axis
        {"x": np.zeros((2, 0, 3))},  # no time step
        {"x": np.zeros((2, 4, 5))},  # width does not match the kernel
        {"kernel": np.zeros((3, 7))},  # not 4 * units columns
        {"recurrent_kernel": np.zeros((2, 6))},  # not (units, 4 * units)
        {"bias": np.zeros(7)},
        {"h0": np.zeros((3, 2))},  # wrong batch
        {"c0": np.zeros((2, 5))},  # wrong units
    ],
)
def test_bad_shapes_raise(change):
    kernel, recurrent_kernel, bias = _weights()
    args = {
        "x": np.zeros((2, 4, 3)),
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "h0": None,
        "c0": None,
    }
    args.update(change)
    with pytest.raises(ValueError):
        lstm_forward(**args)


def test_bad_step_shapes_raise():
    weights = _weights()
    with pytest.raises(ValueError):  # x_t of width 4, kernel expects 3
        lstm_step(np.zeros((2, 4)), np.zeros((2, 2)), np.zeros((2, 2)), *weights)
    with pytest.raises(ValueError):  # h_prev of batch 1, x_t of batch 2
        lstm_step(np.zeros((2, 3)), np.zeros((1, 2)), np.zeros((2, 2)), *weights)
    with pytest.raises(ValueError):
        split_gates(np.zeros(6))
