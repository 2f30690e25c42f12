"""Measuring gradients in recurrent networks (chapters 2 and 3), in the book's notation.

A cell reads ``x_1..x_T`` from ``h_0 = 0``: ``h_t = tanh(W x_t + U h_{t-1} + b)`` for a
SimpleRNN, with recurrent matrix ``U`` (Keras's ``recurrent_kernel`` is ``U^T``).

* :func:`state_gradient_norms`: ``||dL/dh_t||`` (and ``||dL/dc_t||``) for ``t = 1..T``;
* :func:`spectral_radius`, :func:`set_recurrent_spectral_radius`: ``rho(U)``, the knob that
  decides whether those norms shrink or grow with the distance from the loss;
* :class:`GradientNormModel`, :class:`GradientNormHistory`: the gradient norm and the loss
  of every training step, where exploding gradients show up as spikes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "GradientNormHistory",
    "GradientNormModel",
    "lstm_cell",
    "per_step_ratio",
    "set_forget_bias",
    "set_recurrent_spectral_radius",
    "spectral_radius",
    "state_gradient_norms",
]

STATE_NAMES = ("h", "c")


def _norm(gradient: tf.Tensor) -> float:
    """Euclidean norm, scaled by the largest entry so that the squares cannot underflow
    (below about 1e-154 in float64) or overflow (above 1e154), as LAPACK's ``dnrm2`` does."""
    values = np.abs(np.asarray(gradient, dtype=np.float64))
    largest = values.max()
    if largest == 0 or not np.isfinite(largest):
        return float(largest)
    return float(largest * np.linalg.norm(values / largest))


def _as_list(states: tf.Tensor | Sequence[tf.Tensor]) -> list[tf.Tensor]:
    return list(states) if isinstance(states, (list, tuple)) else [states]


def state_gradient_norms(
    cell: keras.layers.Layer,
    inputs: np.ndarray | tf.Tensor,
    loss_fn: Callable[[tf.Tensor], tf.Tensor],
) -> dict[str, np.ndarray]:
    """Norm of the gradient of the loss with respect to each state of an unrolled cell.

    The cell starts from its zero state ``h_0`` and reads ``x_t = inputs[:, t - 1]`` for
    ``t = 1..T`` (in inference mode); the loss is ``loss_fn(h_T)``, a scalar (typically a
    mean over the batch). The gradient with respect to the state ``h_t``, ``(N, units)``,
    is reduced to its Euclidean norm over the whole batch, without underflow or overflow.

    ``cell``: a Keras RNN cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``); build it with
    ``dtype="float64"`` when the norms may leave float32's range (about 1e-38 to 3e38), as
    they do over hundreds of steps. ``inputs``: ``(N, T, D)``.

    Returns:
        ``{"h": (T,) array}``, plus ``"c"`` for an LSTM: entry ``t - 1`` is
        ``||dL/dh_t||`` (``||dL/dc_t||``); 0 where the loss does not depend on the state.

    Raises:
        ValueError: ``inputs`` is not ``(N, T, D)`` with ``N, T >= 1``, or the loss is not
            a scalar.
    """
    inputs = tf.convert_to_tensor(inputs, dtype=cell.compute_dtype)
    if inputs.shape.rank != 3 or 0 in inputs.shape[:2]:
        raise ValueError(f"inputs must have shape (N, T, D), N, T >= 1; got {tuple(inputs.shape)}")
    batch, steps, _ = inputs.shape
    states = _as_list(cell.get_initial_state(batch_size=batch))
    if len(states) > len(STATE_NAMES):
        raise ValueError(f"cells with more than {len(STATE_NAMES)} states are not supported")
    watched: list[list[tf.Tensor]] = []
    with tf.GradientTape() as tape:
        for t in range(steps):
            output, states = cell(inputs[:, t], states)
            states = _as_list(states)
            for state in states:
                tape.watch(state)
            watched.append(states)
        loss = tf.convert_to_tensor(loss_fn(output))
    if loss.shape.rank != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    grads = tape.gradient(loss, watched, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return {
        name: np.array([_norm(step[i]) for step in grads])
        for i, name in enumerate(STATE_NAMES[: len(states)])
    }


def per_step_ratio(norms: np.ndarray) -> float:
    """Geometric-mean factor by which a gradient norm changes per step back in time.

    For norms at ``t = 1..T``: ``(||dL/dh_s|| / ||dL/dh_T||) ** (1 / (T - s))`` with
    ``s = 1``, or the first step from which every norm is finite and positive if the
    earliest ones underflowed or overflowed (``nan`` if fewer than two steps remain).
    Below 1 the gradient vanishes on its way back, above 1 it explodes; for a linear RNN
    with ``U = a I`` it is exactly ``a``.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1 or len(norms) < 2:
        raise ValueError(f"need a 1-D array of at least two norms, got shape {norms.shape}")
    bad = np.flatnonzero(~(np.isfinite(norms) & (norms > 0)))
    start = bad[-1] + 1 if len(bad) else 0
    if start >= len(norms) - 1:
        return float("nan")
    return float((norms[start] / norms[-1]) ** (1.0 / (len(norms) - 1 - start)))


def spectral_radius(matrix: np.ndarray | tf.Variable) -> float:
    """Largest absolute eigenvalue of a square matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix, got shape {matrix.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def set_recurrent_spectral_radius(cell: keras.layers.Layer, radius: float) -> float:
    """Rescale the recurrent matrix in place, ``U <- U * radius / rho(U)``; eigenvectors stay.

    ``cell`` is a built ``SimpleRNNCell`` or ``SimpleRNN`` (a square ``recurrent_kernel``).
    With Keras's orthogonal initialiser every singular value of ``U`` then equals ``radius``.
    Returns the largest singular value of the rescaled matrix (``>= radius``).
    """
    cell = getattr(cell, "cell", cell)
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")
    if not cell.built:
        raise ValueError("build the cell first, e.g. cell.build((None, input_dim))")
    kernel = np.asarray(cell.recurrent_kernel)
    current = spectral_radius(kernel)  # raises for non-square (gated) kernels
    if current == 0:
        raise ValueError("the recurrent kernel is zero; there is nothing to rescale")
    cell.recurrent_kernel.assign(kernel * (radius / current))
    return float(np.linalg.norm(np.asarray(cell.recurrent_kernel, dtype=np.float64), ord=2))


def set_forget_bias(cell: keras.layers.Layer, value: float) -> None:
    """Set every forget-gate bias ``b_f`` of a built ``LSTMCell`` (or ``LSTM`` layer) to ``value``.

    Keras starts at ``b_f = 1`` (``unit_forget_bias=True``): ``f_t`` near ``sigmoid(1) = 0.73``.
    """
    cell = getattr(cell, "cell", cell)
    if not isinstance(cell, keras.layers.LSTMCell) or not cell.built or cell.bias is None:
        raise ValueError("set_forget_bias needs a built LSTMCell (or LSTM layer) with a bias")
    bias = np.asarray(cell.bias).copy()
    bias[cell.units : 2 * cell.units] = value  # Keras's gate order: i, f, c, o
    cell.bias.assign(bias)


def lstm_cell(
    units: int, input_width: int, forget_bias: float = 1.0, dtype: str = "float32"
) -> keras.layers.LSTMCell:
    """A built ``LSTMCell`` with Keras's initialisation but forget-gate bias ``forget_bias``.

    ``dtype="float64"`` keeps gradients that leave float32's range measurable.
    """
    cell = keras.layers.LSTMCell(units, dtype=dtype)
    cell.build((None, input_width))
    set_forget_bias(cell, forget_bias)
    return cell


class GradientNormModel(keras.Model):
    """A functional Keras model whose training step also logs two values per batch.

    ``grad_norm``: the global norm of all gradients *before* any ``clipnorm`` is applied
    (a clipped run still shows the raw size); ``batch_loss``: this batch's loss (``loss``
    is the running mean over the epoch, which hides a spike). Otherwise Keras's own
    TensorFlow ``train_step`` (without mixed-precision loss scaling).
    """

    def train_step(self, data: tuple) -> dict[str, tf.Tensor]:
        """One optimizer step on one batch; returns the metrics plus the two values above."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
        batch_size = tf.shape(keras.tree.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":  # the running mean, weighted by batch size like Keras
                metric.update_state(loss, sample_weight=batch_size)
        logs = self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)
        logs["grad_norm"] = tf.linalg.global_norm(gradients)
        logs["batch_loss"] = loss
        return logs


class GradientNormHistory(keras.callbacks.Callback):
    """The ``grad_norm`` and ``batch_loss`` of every training step of a :class:`GradientNormModel`.

    After ``fit``, :attr:`grad_norms` and :attr:`losses` hold one entry per step (all epochs).
    """

    def __init__(self) -> None:
        super().__init__()
        self._grad_norms: list[float] = []
        self._losses: list[float] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if "grad_norm" not in logs:
            raise KeyError("no 'grad_norm' in the logs: train a GradientNormModel")
        self._grad_norms.append(float(logs["grad_norm"]))
        self._losses.append(float(logs["batch_loss"]))

    @property
    def grad_norms(self) -> np.ndarray:
        """Global gradient norm of each training step, before clipping."""
        return np.array(self._grad_norms)

    @property
    def losses(self) -> np.ndarray:
        """Loss of each training step's batch."""
        return np.array(self._losses)
