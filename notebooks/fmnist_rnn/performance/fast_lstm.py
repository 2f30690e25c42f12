"""A faster LSTM for CPUs that computes the same function as ``keras.layers.LSTM``.

:class:`FastLSTM` is a drop-in for ``keras.layers.LSTM(units)`` (defaults, zero
initial state, last output only) with the same three weights in the same shapes and
gate order, so weights move between the two with ``get_weights`` / ``set_weights``;
:func:`fast_two_layer_lstm` builds the book's two-layer model with it.

Why it is faster (appendix A1, ``benchmarks/train_speed.py``): the 28 steps unrolled;
every step's input projection in one product before the loop; a hand-written backward
pass (tanh(c_t) kept, fused ``SigmoidGrad``/``TanhGrad``) whose weight gradients are
one product after the loop; optionally each
sequence's leading all-zero steps computed once per batch (``skip_leading_blank``),
the batch cut into independent loops for different cores (``chains``) and bfloat16
recurrent products (``matmul_dtype``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = [
    "FastLSTM",
    "FoldLines",
    "UnfoldLines",
    "fast_two_layer_lstm",
    "lstm_last_output",
    "lstm_last_output_skip_blank",
]

IMAGE_SIZE = 28
PACKAGE = "fmnist_rnn.performance"


def _mm(a: tf.Tensor, b: tf.Tensor, dtype: tf.DType, **kwargs) -> tf.Tensor:
    """Matrix product computed in ``dtype``, returned as float32."""
    if dtype == tf.float32:
        return tf.matmul(a, b, **kwargs)
    return tf.cast(tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype), **kwargs), tf.float32)


def _gate_grads(dc, dh, i, f, g, o, tc, c_prev):
    """Gradients of the gate pre-activations (Keras's order i, f, c, o) and of c_t."""
    sg, tg = tf.raw_ops.SigmoidGrad, tf.raw_ops.TanhGrad
    dc = dc + tg(y=tc, dy=dh * o)
    dz = [sg(y=i, dy=dc * g), sg(y=f, dy=dc * c_prev), tg(y=g, dy=dc * i), sg(y=o, dy=dh * tc)]
    return tf.concat(dz, axis=1), dc


def _step(z, c_prev):
    zi, zf, zc, zo = tf.split(z, 4, axis=1)
    i, f, o, g = tf.sigmoid(zi), tf.sigmoid(zf), tf.sigmoid(zo), tf.tanh(zc)
    c = f * c_prev + i * g
    tc = tf.tanh(c)
    return (i, f, g, o, tc), c, o * tc


def lstm_last_output(x, kernel, recurrent_kernel, bias, matmul_dtype=tf.float32) -> tf.Tensor:
    """The last hidden state of ``keras.layers.LSTM`` (defaults, zero state) over ``x``
    (batch, steps, features); the number of steps must be static."""
    steps, units = int(x.shape[1]), int(recurrent_kernel.shape[0])

    @tf.custom_gradient
    def _run(x, kernel, recurrent_kernel, bias):
        batch, features = tf.shape(x)[0], tf.shape(x)[2]
        flat = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, features])  # time-major
        z_in = tf.unstack(tf.reshape(flat @ kernel + bias, [steps, batch, 4 * units]), steps)
        h = c = tf.zeros_like(z_in[0][:, :units])
        hs, cs, gates = [h], [c], []
        for t in range(steps):
            z = z_in[t] if t == 0 else z_in[t] + _mm(h, recurrent_kernel, matmul_dtype)
            gate, c, h = _step(z, c)
            gates.append(gate)
            cs.append(c)
            hs.append(h)

        def grad(dh_last):
            dh, dc, dzs = dh_last, tf.zeros_like(dh_last), []
            recurrent_t = tf.transpose(recurrent_kernel)
            for t in reversed(range(steps)):
                dz, dc = _gate_grads(dc, dh, *gates[t], cs[t])
                dc = dc * gates[t][1]
                dzs.append(dz)
                if t > 0:
                    dh = _mm(dz, recurrent_t, matmul_dtype)
            dzs = dzs[::-1]
            dz_all = tf.reshape(tf.stack(dzs), [-1, 4 * units])
            h_prev = tf.reshape(tf.stack(hs[1:-1]), [-1, units])  # h_1 .. h_{T-1}
            dz_rec = tf.reshape(tf.stack(dzs[1:]), [-1, 4 * units])
            d_recurrent = _mm(h_prev, dz_rec, matmul_dtype, transpose_a=True)
            dx = tf.reshape(dz_all @ tf.transpose(kernel), [steps, batch, -1])
            return (
                tf.transpose(dx, [1, 0, 2]),
                tf.matmul(flat, dz_all, transpose_a=True),
                d_recurrent,
                tf.reduce_sum(dz_all, axis=0),
            )

        return hs[-1], grad

    return _run(x, kernel, recurrent_kernel, bias)


def lstm_last_output_skip_blank(
    x, kernel, recurrent_kernel, bias, matmul_dtype=tf.float32
) -> tf.Tensor:
    """:func:`lstm_last_output` that skips the steps before a sequence's first non-zero input.

    From a zero state, all-zero inputs give every sequence the same state: that state
    is row 0; the sequences, sorted by their first non-zero step, join at that step.
    Same result; no gradient flows to ``x`` (use it on data, e.g. pixel columns).
    """
    steps, units = int(x.shape[1]), int(recurrent_kernel.shape[0])
    x = tf.stop_gradient(x)
    started = tf.reduce_any(tf.not_equal(x, 0.0), axis=2)  # (batch, steps)
    first = tf.where(
        tf.reduce_any(started, axis=1),
        tf.argmax(tf.cast(started, tf.int32), axis=1, output_type=tf.int32),
        steps,
    )
    order = tf.argsort(first, stable=True)
    counts = tf.math.bincount(tf.gather(first, order), minlength=steps + 1, maxlength=steps + 1)
    active = 1 + tf.cumsum(counts)[:steps]  # rows computed at step t (row 0: blank)
    rows = tf.where(first < steps, tf.math.invert_permutation(order) + 1, 0)
    x_tm = tf.transpose(tf.gather(x, order), [1, 0, 2])
    x_tm = tf.concat([tf.zeros_like(x_tm[:, :1]), x_tm], axis=1)  # (steps, 1 + batch, d)

    @tf.custom_gradient
    def _run(kernel, recurrent_kernel, bias):
        xs = [x_tm[t, : active[t]] for t in range(steps)]
        z_in = [xs[t] @ kernel + bias for t in range(steps)]
        h = c = tf.zeros_like(z_in[0][:, :units])
        hps, cps, gates, cs = [], [], [], []
        for t in range(steps):
            if t == 0:
                hp, cp, z = h, c, z_in[0]
            else:
                extra = active[t] - active[t - 1]
                hp = tf.concat([h, tf.repeat(h[:1], extra, axis=0)], axis=0)
                cp = tf.concat([c, tf.repeat(c[:1], extra, axis=0)], axis=0)
                z = z_in[t] + _mm(hp, recurrent_kernel, matmul_dtype)
            gate, c, h = _step(z, cp)
            hps.append(hp)
            cps.append(cp)
            gates.append(gate)
            cs.append(c)

        def grad(d_out):
            dh = tf.math.unsorted_segment_sum(d_out, rows, active[-1])
            dc, dzs = tf.zeros_like(dh), []
            recurrent_t = tf.transpose(recurrent_kernel)
            for t in reversed(range(steps)):
                dz, dc = _gate_grads(dc, dh, *gates[t], cps[t])
                dzs.append(dz)
                if t > 0:
                    dhp = _mm(dz, recurrent_t, matmul_dtype)
                    dcp = dc * gates[t][1]
                    n = active[t - 1]  # rows beyond n started at t: fold them into row 0
                    dh = tf.concat(
                        [dhp[:1] + tf.reduce_sum(dhp[n:], 0, keepdims=True), dhp[1:n]], 0
                    )
                    dc = tf.concat(
                        [dcp[:1] + tf.reduce_sum(dcp[n:], 0, keepdims=True), dcp[1:n]], 0
                    )
            dzs = dzs[::-1]
            dz_all = tf.concat(dzs, axis=0)
            d_rec = _mm(
                tf.concat(hps[1:], 0), tf.concat(dzs[1:], 0), matmul_dtype, transpose_a=True
            )
            d_kernel = tf.matmul(tf.concat(xs, 0), dz_all, transpose_a=True)
            return d_kernel, d_rec, tf.reduce_sum(dz_all, axis=0)

        return tf.gather(h, rows), grad

    return _run(kernel, recurrent_kernel, bias)


@keras.saving.register_keras_serializable(package=PACKAGE)
class FastLSTM(keras.layers.Layer):
    """``keras.layers.LSTM(units)`` (last output only) with a hand-written backward pass.

    Args:
        units: size of the hidden state.
        matmul_dtype: ``"float32"`` or ``"bfloat16"`` (the recurrent products).
        skip_leading_blank: skip each sequence's leading all-zero steps (same
            result, but no gradient to the layer's input: for layers that read data).
        chains: cut the batch into this many independent loops (same result).
    """

    def __init__(self, units, matmul_dtype="float32", skip_leading_blank=False, chains=1, **kw):
        super().__init__(**kw)
        if matmul_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"matmul_dtype must be 'float32' or 'bfloat16', got {matmul_dtype!r}")
        if not isinstance(chains, int) or isinstance(chains, bool) or chains < 1:
            raise ValueError(f"chains must be a positive integer, got {chains!r}")
        self.units, self.matmul_dtype, self.chains = units, matmul_dtype, chains
        self.skip_leading_blank = bool(skip_leading_blank)

    def build(self, input_shape) -> None:
        """``kernel``, ``recurrent_kernel``, ``bias``, initialised like ``keras.layers.LSTM``."""
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * u), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer="orthogonal", name="recurrent_kernel"
        )

        def unit_forget_bias(shape, dtype=None):  # Keras's unit_forget_bias=True
            zeros = keras.ops.zeros((u,), dtype=dtype)
            return keras.ops.concatenate([zeros, keras.ops.ones((u,), dtype=dtype), zeros, zeros])

        self.bias = self.add_weight(shape=(4 * u,), initializer=unit_forget_bias, name="bias")

    def call(self, inputs):
        """The hidden state after the last step, (batch, units)."""
        x = tf.cast(inputs, tf.float32)
        run = lstm_last_output_skip_blank if self.skip_leading_blank else lstm_last_output
        weights = [tf.cast(w, tf.float32) for w in (self.kernel, self.recurrent_kernel, self.bias)]
        dtype = tf.as_dtype(self.matmul_dtype)
        if self.chains == 1:
            return run(x, *weights, matmul_dtype=dtype)
        n = tf.shape(x)[0]
        part = n // self.chains
        sizes = tf.stack([part] * (self.chains - 1) + [n - part * (self.chains - 1)])
        parts = tf.split(x, sizes, num=self.chains, axis=0)
        return tf.concat([run(p, *weights, matmul_dtype=dtype) for p in parts], axis=0)

    def compute_output_shape(self, input_shape):
        """(batch, units)."""
        return (input_shape[0], self.units)

    def get_config(self) -> dict:
        """Serializable configuration."""
        return {
            **super().get_config(),
            "units": self.units,
            "matmul_dtype": self.matmul_dtype,
            "skip_leading_blank": self.skip_leading_blank,
            "chains": self.chains,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class FoldLines(keras.layers.Layer):
    """(N, 28, 28, 1) -> (N*28, 28, 1): every line of every image becomes one sequence."""

    def call(self, t):
        """Reshape, keeping the order of images and lines."""
        return keras.ops.reshape(t, (-1, IMAGE_SIZE, 1))

    def compute_output_shape(self, input_shape):
        """Unknown batch, (28, 1) per sequence."""
        return (None, IMAGE_SIZE, 1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnfoldLines(keras.layers.Layer):
    """(N*28, units) -> (N, 28, units): the line vectors of each image, in order."""

    def call(self, t):
        """Reshape back to one sequence of 28 line vectors per image."""
        return keras.ops.reshape(t, (-1, IMAGE_SIZE, t.shape[-1]))

    def compute_output_shape(self, input_shape):
        """Unknown batch, (28, units) per image."""
        return (None, IMAGE_SIZE, input_shape[-1])


def fast_two_layer_lstm(
    units: int = 128,
    read: str = "columns",
    skip_blank: bool = True,
    chains: int = 1,
    matmul_dtype: str = "float32",
    dropout: float = 0.0,
    name: str | None = None,
) -> keras.Model:
    """The book's two-layer LSTM on :class:`FastLSTM`: the same function and weights.

    ``get_weights()`` has the order and shapes of ``fmnist_rnn.models.two_layer_lstm``
    (first LSTM's kernel, recurrent kernel, bias; the second's; the dense layer's),
    so ``plain.set_weights(fast.get_weights())`` moves a trained model to plain Keras.

    Args:
        units: hidden size of both LSTMs.
        read: ``"columns"`` (each pixel column top to bottom, then the columns left
            to right) or ``"rows"``.
        skip_blank: the first LSTM skips the blank pixels at the start of each line.
        chains: the first LSTM cuts each batch into this many independent loops.
        matmul_dtype: ``"float32"`` or ``"bfloat16"`` recurrent products.
        dropout: rate of a ``Dropout`` layer between the two LSTMs (no weights).
        name: model name; default ``fast_two_layer_lstm_<read>``.
    """
    if read not in ("columns", "rows"):
        raise ValueError(f"unknown read {read!r}; expected 'columns' or 'rows'")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = (
        keras.layers.Permute((2, 1, 3), name="columns_first")(inputs)
        if read == "columns"
        else inputs
    )
    x = FoldLines(name="fold")(x)
    x = FastLSTM(units, matmul_dtype, skip_blank, chains, name="pixel_lstm")(x)
    x = UnfoldLines(name="unfold")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="between")(x)
    x = FastLSTM(units, matmul_dtype, name="image_lstm")(x)
    outputs = keras.layers.Dense(10, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name=name or f"fast_two_layer_lstm_{read}")
