"""Measuring gradients in recurrent networks: per time step, and per training step.

Backpropagation through time sends the gradient of the loss from the last
hidden state back to the first one, one Jacobian per step. This module measures
what arrives:

* :func:`state_gradient_norms` unrolls a Keras RNN cell step by step under a
  :class:`tf.GradientTape` and returns the norm of the gradient of the loss
  with respect to every state, ``||dL/dh_t||`` for ``t = 0..T-1``;
* :func:`spectral_radius` and :func:`set_recurrent_spectral_radius` read and
  set the spectral radius of a recurrent matrix, the knob that decides whether
  those norms shrink or grow with the distance from the loss;
* :class:`GradientNormModel` and :class:`GradientNormHistory` record the global
  gradient norm and the loss of every training step of ``model.fit``, the
  signal in which exploding gradients show up as spikes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "GradientNormHistory",
    "GradientNormModel",
    "per_step_ratio",
    "set_forget_bias",
    "set_recurrent_spectral_radius",
    "spectral_radius",
    "state_gradient_norms",
]

#: Names of a cell's states, in the order Keras keeps them (LSTM: ``[h, c]``).
STATE_NAMES = ("h", "c")


def _norm(gradient: tf.Tensor) -> float:
    """Euclidean norm that neither underflows nor overflows in the squares.

    ``sqrt(sum(x**2))`` loses entries below about 1e-154 (float64) to 0 and
    turns entries above 1e154 into ``inf``; dividing by the largest magnitude
    first keeps every representable norm (the approach of LAPACK's ``dnrm2``).
    """
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

    The cell starts from its zero initial state and reads ``inputs[:, t]`` for
    ``t = 0..T-1``; the tape watches every state it produces. The loss is
    ``loss_fn(output)`` of the output after the last step (the last hidden
    state ``h_{T-1}``), so ``dL/dh_{T-1}`` is the gradient that enters the
    recurrence and ``dL/dh_0`` what is left of it after ``T - 1`` Jacobians.

    The batch: the loss is one scalar (``loss_fn`` decides how it pools the
    examples, typically a mean), and its gradient with respect to the state at
    step ``t``, of shape ``(N, units)``, is reduced to one number by the
    Euclidean (Frobenius) norm over the whole batch, computed without
    underflow or overflow in the squares.

    Args:
        cell: a Keras RNN cell such as ``keras.layers.SimpleRNNCell``,
            ``LSTMCell`` or ``GRUCell``, built or not (it is built on the first
            step). It runs in inference mode (no dropout).
        inputs: float32 array ``(N, T, D)``: ``N`` sequences of ``T`` steps,
            cast to the cell's compute dtype (build the cell with
            ``dtype="float64"`` when the norms may leave float32's range,
            about 1e-38 to 3e38, as they do over hundreds of steps).
        loss_fn: maps the final output ``(N, units)`` to a scalar tensor.

    Returns:
        ``{"h": (T,) array}``, plus ``{"c": (T,) array}`` for cells with a cell
        state (LSTM); entry ``t`` is the norm of ``dL/d state_t``. A state the
        loss does not depend on has norm 0.

    Raises:
        ValueError: ``inputs`` is not of rank 3, has no time step or no
            example, or ``loss_fn`` does not return a scalar.
    """
    inputs = tf.convert_to_tensor(inputs, dtype=cell.compute_dtype)
    if inputs.shape.rank != 3:
        raise ValueError(
            f"inputs must have shape (N, T, D) (rank 3), got shape {tuple(inputs.shape)}"
        )
    batch, steps, _ = inputs.shape
    if steps == 0 or batch == 0:
        raise ValueError(
            f"inputs must hold at least one sequence of at least one step, "
            f"got shape {tuple(inputs.shape)}"
        )
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

    ``(norms[k] / norms[-1]) ** (1 / (T - 1 - k))`` with ``k = 0`` normally:
    below 1 the gradient vanishes on its way to the first step, above 1 it
    explodes. For a linear RNN with ``W_h = a I`` it is exactly ``a``. If the
    earliest norms underflowed to 0 or overflowed to ``inf``/``nan``, ``k`` is
    the first step from which every norm is finite and positive, so the factor
    describes the stretch that could be measured; ``nan`` if that stretch is
    shorter than two steps.
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
    """Rescale a cell's recurrent kernel in place so that its spectral radius is ``radius``.

    Only the scale changes (``W_h <- W_h * radius / rho(W_h)``), so the
    eigenvectors stay where they are. With Keras's default orthogonal
    initialiser every singular value of ``W_h`` then equals ``radius`` too.

    Args:
        cell: a built cell with a square ``recurrent_kernel``
            (``SimpleRNNCell``), or an RNN layer wrapping one (``SimpleRNN``).
        radius: the target spectral radius, positive.

    Returns:
        The largest singular value of the rescaled kernel (``>= radius``).
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
    """Set every forget-gate bias of a built LSTM cell (or ``LSTM`` layer) to ``value``.

    The forget gate ``f_t = sigmoid(... + b_f)`` is the factor by which the
    cell state, and its gradient, is carried from one step to the next. Keras
    initialises ``b_f = 1`` (``unit_forget_bias=True``), i.e. ``f_t`` near 0.73.
    """
    cell = getattr(cell, "cell", cell)
    if not isinstance(cell, keras.layers.LSTMCell) or not cell.built or cell.bias is None:
        raise ValueError("set_forget_bias needs a built LSTMCell (or LSTM layer) with a bias")
    bias = np.asarray(cell.bias).copy()
    bias[cell.units : 2 * cell.units] = value  # Keras's gate order: i, f, c, o
    cell.bias.assign(bias)


class GradientNormModel(keras.Model):
    """A Keras model whose training step also reports its global gradient norm.

    Build it like any functional model, ``GradientNormModel(inputs, outputs)``.
    ``fit`` then passes, besides the usual running metrics, two per-step values
    to the callbacks' ``on_train_batch_end`` logs:

    * ``grad_norm``: the global norm of all gradients (the square root of the
      sum of their squared entries), measured *before* the optimizer applies any
      ``clipnorm`` / ``global_clipnorm``, so that a clipped run still shows how
      large the raw gradient was;
    * ``batch_loss``: the loss of this one batch (``loss`` is the running mean
      over the epoch so far, which hides a spike).

    Use :class:`GradientNormHistory` to collect them. The step is Keras's own
    TensorFlow ``train_step`` with these two additions (and without the loss
    scaling that mixed-precision training would need).
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
    """Collects ``grad_norm`` and ``batch_loss`` of every training step.

    Works with :class:`GradientNormModel`. After ``fit``, :attr:`grad_norms`
    and :attr:`losses` are arrays with one entry per training step (over all
    epochs); a step whose loss overflowed holds ``nan`` or ``inf``.
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
