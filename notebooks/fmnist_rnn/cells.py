"""A long short-term memory (LSTM) cell in NumPy, with the weight layout of Keras.

For ``t = 1..T`` from ``h_0 = c_0 = 0`` (``*`` element-wise, ``sigma`` the sigmoid)::

    z_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias     # (N, 4 * units)
    i_t, f_t, o_t = sigma(z_t[i]), sigma(z_t[f]), sigma(z_t[o])   # gates
    g_t = tanh(z_t[g])                                            # candidate
    c_t = f_t * c_{t-1} + i_t * g_t,   h_t = o_t * tanh(c_t)

``kernel`` (D, 4 units), ``recurrent_kernel`` (units, 4 units) and ``bias`` are the arrays
of ``keras.layers.LSTM.get_weights()``, gates in the order i, f, g, o (Keras calls g "c").
Arithmetic is in float64, so that a comparison with Keras measures Keras's rounding.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GATES", "STATES", "lstm_forward", "lstm_step", "sigmoid", "split_gates"]

GATES: tuple[str, ...] = ("i", "f", "g", "o")
STATES: tuple[str, ...] = ("h", "c")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-z))`` as ``(1 + tanh(z / 2)) / 2``: no overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def split_gates(weights: np.ndarray) -> dict[str, np.ndarray]:
    """The four gate blocks of the last axis as ``{"i","f","g","o"}`` (``split_gates(bias)["f"]``).

    Raises:
        ValueError: the last axis is not a multiple of 4.
    """
    weights = np.asarray(weights)
    if weights.ndim < 1 or weights.shape[-1] % 4:
        raise ValueError(
            f"the last axis must hold 4 gate blocks (a multiple of 4), got shape {weights.shape}"
        )
    return dict(zip(GATES, np.split(weights, 4, axis=-1), strict=True))


def _units(kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray) -> int:
    """Check the three weight arrays against each other; return the number of units."""
    if recurrent_kernel.ndim != 2 or 4 * recurrent_kernel.shape[0] != recurrent_kernel.shape[1]:
        raise ValueError(
            f"recurrent_kernel must have shape (units, 4 * units), got {recurrent_kernel.shape}"
        )
    units = recurrent_kernel.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != 4 * units:
        raise ValueError(f"kernel must have shape (D, {4 * units}), got {kernel.shape}")
    if bias.shape != (4 * units,):
        raise ValueError(f"bias must have shape ({4 * units},), got {bias.shape}")
    return units


def _state(state: np.ndarray | None, name: str, batch: int, units: int) -> np.ndarray:
    """An initial state as float64 (N, units); zeros when ``state`` is None."""
    if state is None:
        return np.zeros((batch, units))
    state = np.asarray(state, dtype=np.float64)
    if state.shape != (batch, units):
        raise ValueError(f"{name} must have shape ({batch}, {units}), got {state.shape}")
    return state


def _as_float(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(array, dtype=np.float64) for array in arrays]


def lstm_step(
    x_t: np.ndarray,
    h_prev: np.ndarray | None,
    c_prev: np.ndarray | None,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
) -> dict[str, np.ndarray]:
    """One LSTM step for a batch: ``x_t`` (N, D), the previous states (N, units) or ``None``
    for zeros, Keras's three weight arrays. Returns the gates and the new states,
    ``{"i", "f", "g", "o", "c", "h"}``, each (N, units).

    Raises:
        ValueError: inconsistent shapes.
    """
    x_t, kernel, recurrent_kernel, bias = _as_float(x_t, kernel, recurrent_kernel, bias)
    units = _units(kernel, recurrent_kernel, bias)
    if x_t.ndim != 2 or x_t.shape[1] != kernel.shape[0]:
        raise ValueError(f"x_t must have shape (N, {kernel.shape[0]}), got {x_t.shape}")
    h_prev = _state(h_prev, "h_prev", len(x_t), units)
    c_prev = _state(c_prev, "c_prev", len(x_t), units)

    z = split_gates(x_t @ kernel + h_prev @ recurrent_kernel + bias)
    i, f, o = sigmoid(z["i"]), sigmoid(z["f"]), sigmoid(z["o"])
    g = np.tanh(z["g"])
    c = f * c_prev + i * g  # keep a share f of the old memory, write a share i of g
    h = o * np.tanh(c)  # show a share o of the squashed memory
    return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


def lstm_forward(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """:func:`lstm_step` over sequences ``x`` (N, T, D), from ``h0``, ``c0`` (zeros if omitted).

    Returns ``{"h", "c", "i", "f", "g", "o"}``, each (N, T, units): what
    ``keras.layers.LSTM(units, return_sequences=True)`` computes, plus the cell states and
    the gates; entry ``t - 1`` of the time axis is step ``t``.

    Raises:
        ValueError: ``x`` is not (N, T, D) with T >= 1, or the shapes disagree.
    """
    x, kernel, recurrent_kernel, bias = _as_float(x, kernel, recurrent_kernel, bias)
    units = _units(kernel, recurrent_kernel, bias)
    if x.ndim != 3 or x.shape[1] < 1 or x.shape[2] != kernel.shape[0]:
        raise ValueError(f"x must have shape (N, T, {kernel.shape[0]}) with T >= 1, got {x.shape}")
    h = _state(h0, "h0", len(x), units)
    c = _state(c0, "c0", len(x), units)

    steps = []
    for t in range(x.shape[1]):
        step = lstm_step(x[:, t], h, c, kernel, recurrent_kernel, bias)
        h, c = step["h"], step["c"]
        steps.append(step)
    return {name: np.stack([s[name] for s in steps], axis=1) for name in STATES + GATES}
