"""A faster LSTM for CPUs that computes the same function as ``keras.layers.LSTM``.

:class:`FastLSTM` is a drop-in for ``keras.layers.LSTM(units)`` (defaults:
``tanh`` / ``sigmoid``, zero initial state, only the last output returned). It
holds the same three weights in the same shapes and order (``kernel``
``(input_dim, 4*units)``, ``recurrent_kernel`` ``(units, 4*units)``, ``bias``
``(4*units,)``, gates in Keras's order *input, forget, cell, output*), so
weights move between the two with ``get_weights`` / ``set_weights``.

What makes it faster (measured in ``benchmarks/train_speed.py``):

* the time loop is unrolled in the graph (the sequences here have 28 steps), so
  there is no ``while`` loop and no ``TensorArray`` bookkeeping;
* the input projection of every step is one matrix product before the loop;
* the backward pass is written by hand (:func:`lstm_last_output`): per step it
  needs one ``(batch, 4*units) x (4*units, units)`` product, and the weight
  gradients of all steps are summed by one large product after the loop,
  instead of 28 small ones that automatic differentiation would produce;
* optionally (``skip_leading_blank=True``, :func:`lstm_last_output_skip_blank`)
  the all-zero steps at the start of each sequence are computed once per batch
  instead of once per sequence (from a zero state they move every sequence
  alike); for the first LSTM of the two-layer model that is the background
  above each garment, about a third of its steps;
* optionally (``chains=2``) the batch is cut into independent parts, each
  with its own unrolled loop: nothing connects them until the weight gradients
  are added, so TensorFlow's scheduler runs them on different cores at the same
  time (a single LSTM step is too small for one matrix product to use two cores
  well);
* optionally (``matmul_dtype="bfloat16"``) the recurrent products run in
  bfloat16, which oneDNN maps to AMX / AVX512-BF16 on recent Intel CPUs; the
  cell state and all element-wise arithmetic stay in float32.
"""

from __future__ import annotations

import keras
import tensorflow as tf

__all__ = ["FastLSTM", "lstm_last_output", "lstm_last_output_skip_blank"]


def _mm(a: tf.Tensor, b: tf.Tensor, dtype: tf.DType, **kwargs) -> tf.Tensor:
    """Matrix product computed in ``dtype``, returned as float32."""
    if dtype == tf.float32:
        return tf.matmul(a, b, **kwargs)
    return tf.cast(tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype), **kwargs), tf.float32)


def lstm_last_output(
    x: tf.Tensor,
    kernel: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    bias: tf.Tensor,
    matmul_dtype: tf.DType = tf.float32,
) -> tf.Tensor:
    """Run an LSTM over ``x`` (batch, steps, features) and return the last hidden state.

    Same equations and gate order as ``keras.layers.LSTM`` with its defaults,
    starting from zero state. The sequence length must be static.
    """
    steps = int(x.shape[1])
    units = int(recurrent_kernel.shape[0])

    @tf.custom_gradient
    def _run(x, kernel, recurrent_kernel, bias):
        batch = tf.shape(x)[0]
        features = tf.shape(x)[2]
        x_tm = tf.transpose(x, [1, 0, 2])  # time-major (steps, batch, features)
        flat = tf.reshape(x_tm, [-1, features])
        z_in = tf.reshape(tf.matmul(flat, kernel) + bias, [steps, batch, 4 * units])
        z_in = tf.unstack(z_in, num=steps)
        h = c = None
        hs, cs, gates = [], [], []
        for t in range(steps):
            z = z_in[t] if h is None else z_in[t] + _mm(h, recurrent_kernel, matmul_dtype)
            zi, zf, zc, zo = tf.split(z, 4, axis=1)
            i, f, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.sigmoid(zo)
            g = tf.tanh(zc)
            c = i * g if c is None else f * c + i * g
            h = o * tf.tanh(c)
            gates.append((i, f, g, o))
            cs.append(c)
            hs.append(h)

        def grad(dh_last: tf.Tensor):
            dh = dh_last
            dc = None
            dzs = []
            for t in reversed(range(steps)):
                i, f, g, o = gates[t]
                tc = tf.tanh(cs[t])
                do = dh * tc
                dct = dh * o * (1.0 - tc * tc)
                dc = dct if dc is None else dc + dct
                di = dc * g
                dg = dc * i
                dz_i = di * i * (1.0 - i)
                dz_c = dg * (1.0 - g * g)
                dz_o = do * o * (1.0 - o)
                if t > 0:
                    df = dc * cs[t - 1]
                    dz_f = df * f * (1.0 - f)
                    dc = dc * f
                else:
                    dz_f = tf.zeros_like(dz_i)
                dz = tf.concat([dz_i, dz_f, dz_c, dz_o], axis=1)
                dzs.append(dz)
                if t > 0:
                    dh = _mm(dz, recurrent_kernel, matmul_dtype, transpose_b=True)
            dzs = dzs[::-1]  # back to time order
            dz_all = tf.reshape(tf.stack(dzs), [-1, 4 * units])  # (steps*batch, 4u)
            # Recurrent weights see h_{t-1} for t >= 1 (h_{-1} = 0 contributes nothing).
            h_prev = tf.reshape(tf.stack(hs[:-1]), [-1, units])
            dz_rec = tf.reshape(tf.stack(dzs[1:]), [-1, 4 * units])
            d_recurrent = _mm(h_prev, dz_rec, matmul_dtype, transpose_a=True)
            d_kernel = tf.matmul(flat, dz_all, transpose_a=True)
            d_bias = tf.reduce_sum(dz_all, axis=0)
            dx = tf.matmul(dz_all, kernel, transpose_b=True)
            dx = tf.transpose(tf.reshape(dx, [steps, batch, features]), [1, 0, 2])
            return dx, d_kernel, d_recurrent, d_bias

        return hs[-1], grad

    return _run(x, kernel, recurrent_kernel, bias)


def lstm_last_output_skip_blank(
    x: tf.Tensor,
    kernel: tf.Tensor,
    recurrent_kernel: tf.Tensor,
    bias: tf.Tensor,
    matmul_dtype: tf.DType = tf.float32,
) -> tf.Tensor:
    """:func:`lstm_last_output` that skips the steps before a sequence's first non-zero input.

    From a zero state, an all-zero input step gives the same new state for every
    sequence. So the sequences are sorted by the step of their first non-zero
    input, one extra all-zero sequence (row 0) carries the shared "blank" state,
    and at step ``t`` only the sequences that have started are computed; a
    sequence that starts at ``t`` takes its previous state from row 0. The
    result equals :func:`lstm_last_output`. No gradient flows to ``x`` (use it
    on data, e.g. the pixel columns of the first LSTM).
    """
    steps = int(x.shape[1])
    units = int(recurrent_kernel.shape[0])
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
    # Each sequence's last state: its sorted row + 1, or row 0 if it never starts.
    rows = tf.where(first < steps, tf.math.invert_permutation(order) + 1, 0)
    x_tm = tf.transpose(tf.gather(x, order), [1, 0, 2])
    x_tm = tf.concat([tf.zeros_like(x_tm[:, :1]), x_tm], axis=1)  # (steps, 1 + batch, d)

    @tf.custom_gradient
    def _run(kernel, recurrent_kernel, bias):
        xs = [x_tm[t, : active[t]] for t in range(steps)]
        z_in = [tf.matmul(xs[t], kernel) + bias for t in range(steps)]
        h = c = None
        hps, cps, gates, cs = [], [], [], []
        for t in range(steps):
            if h is None:
                hp = cp = tf.zeros_like(z_in[0][:, :units])
                z = z_in[0]
            else:
                extra = active[t] - active[t - 1]
                hp = tf.concat([h, tf.repeat(h[:1], extra, axis=0)], axis=0)
                cp = tf.concat([c, tf.repeat(c[:1], extra, axis=0)], axis=0)
                z = z_in[t] + _mm(hp, recurrent_kernel, matmul_dtype)
            zi, zf, zc, zo = tf.split(z, 4, axis=1)
            i, f, o = tf.sigmoid(zi), tf.sigmoid(zf), tf.sigmoid(zo)
            g = tf.tanh(zc)
            c = f * cp + i * g
            h = o * tf.tanh(c)
            hps.append(hp)
            cps.append(cp)
            gates.append((i, f, g, o))
            cs.append(c)

        def grad(d_out: tf.Tensor):
            dh = tf.math.unsorted_segment_sum(d_out, rows, active[-1])
            dc = tf.zeros_like(dh)
            dzs = []
            for t in reversed(range(steps)):
                i, f, g, o = gates[t]
                tc = tf.tanh(cs[t])
                do = dh * tc
                dc = dc + dh * o * (1.0 - tc * tc)
                dz = tf.concat(
                    [
                        dc * g * i * (1.0 - i),
                        dc * cps[t] * f * (1.0 - f),
                        dc * i * (1.0 - g * g),
                        do * o * (1.0 - o),
                    ],
                    axis=1,
                )
                dzs.append(dz)
                if t > 0:
                    dhp = _mm(dz, recurrent_kernel, matmul_dtype, transpose_b=True)
                    dcp = dc * f
                    n = active[t - 1]  # rows beyond n started at t: fold them into row 0
                    dh = tf.concat(
                        [dhp[:1] + tf.reduce_sum(dhp[n:], 0, keepdims=True), dhp[1:n]], 0
                    )
                    dc = tf.concat(
                        [dcp[:1] + tf.reduce_sum(dcp[n:], 0, keepdims=True), dcp[1:n]], 0
                    )
            dzs = dzs[::-1]
            dz_rec = tf.concat(dzs[1:], axis=0)
            d_recurrent = _mm(tf.concat(hps[1:], 0), dz_rec, matmul_dtype, transpose_a=True)
            dz_all = tf.concat(dzs, axis=0)
            d_kernel = tf.matmul(tf.concat(xs, 0), dz_all, transpose_a=True)
            return d_kernel, d_recurrent, tf.reduce_sum(dz_all, axis=0)

        return tf.gather(h, rows), grad

    return _run(kernel, recurrent_kernel, bias)


@keras.saving.register_keras_serializable(package="fmnist_rnn")
class FastLSTM(keras.layers.Layer):
    """``keras.layers.LSTM(units)`` (last output only) with a hand-written backward pass.

    Args:
        units: size of the hidden state.
        matmul_dtype: ``"float32"`` (exact up to rounding order) or ``"bfloat16"``
            (the recurrent matrix products in bfloat16; state stays float32).
        skip_leading_blank: skip each sequence's leading all-zero steps
            (:func:`lstm_last_output_skip_blank`; same result, but no gradient
            to the layer's input: for layers that read data).
        chains: cut the batch into this many parts that run as independent
            loops (same result; lets two cores work on one batch).
    """

    def __init__(
        self,
        units: int,
        matmul_dtype: str = "float32",
        skip_leading_blank: bool = False,
        chains: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if matmul_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"matmul_dtype must be 'float32' or 'bfloat16', got {matmul_dtype!r}")
        if not isinstance(chains, int) or chains < 1:
            raise ValueError(f"chains must be a positive integer, got {chains!r}")
        self.chains = chains
        self.units = units
        self.matmul_dtype = matmul_dtype
        self.skip_leading_blank = bool(skip_leading_blank)

    def build(self, input_shape) -> None:
        """Create ``kernel``, ``recurrent_kernel`` and ``bias`` like ``keras.layers.LSTM``."""
        u = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * u), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer="orthogonal", name="recurrent_kernel"
        )

        def bias_init(shape, dtype=None):  # Keras's unit_forget_bias=True
            ones = keras.ops.ones((u,), dtype=dtype)
            zeros = keras.ops.zeros((u,), dtype=dtype)
            return keras.ops.concatenate([zeros, ones, zeros, zeros])

        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")

    def call(self, inputs):
        """Return the hidden state after the last step, shape (batch, units)."""
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
