"""Forward + backward pass of the first LSTM for one chain: what was tried to make it faster.

One chain of the fast path on two cores: the 448 pixel columns of 16 training images,
all 28 steps, 128 units, Keras's initial weights, one thread (as each chain runs).
Every variant computes the same last state and the same weight gradients (checked
here against the package's ``lstm_last_output``); they differ in how:

* ``before``: the hand-written backward pass as it was first written (tanh(c_t)
  recomputed, sigmoid and tanh derivatives as ``y * (1 - y)`` products, the
  recurrent product as ``matmul(..., transpose_b=True)``);
* ``package``: ``fmnist_rnn.performance.fast_lstm.lstm_last_output`` (tanh(c_t) kept,
  TensorFlow's fused ``SigmoidGrad``/``TanhGrad``, a transposed copy of the kernel);
* ``fused_cell``: TensorFlow's fused CPU kernels ``LSTMBlockCell`` (one op per
  forward step, product included) and ``LSTMBlockCellGrad`` (one op per backward step);
* ``package_xla``: the package's function compiled with XLA (``jit_compile=True``).

Two more rows time the pass's 27 backward products alone: with ``transpose_b=True``
and with a transposed copy made once. Timings are interleaved,
medians over rounds. Usage (from the repository root)::

    python benchmarks/lstm_step.py --json benchmarks/results/lstm_step.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from fmnist_rnn.performance import hardware

STEPS, UNITS, IMAGES = 28, 128, 16


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point; returns the result written with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (medians)")
    args = parser.parse_args(argv)
    hardware.apply_threads(hardware.FastPath("fast", 1, (1, 1), "one chain, one thread"))
    import tensorflow as tf

    from fmnist_rnn import data
    from fmnist_rnn.checkpoints import provenance
    from fmnist_rnn.performance.fast_lstm import FastLSTM, lstm_last_output

    images = data.load_splits().x_train[:IMAGES].astype(np.float32) / 255.0
    x = tf.constant(np.transpose(images, (0, 2, 1)).reshape(-1, STEPS, 1))  # columns
    layer = FastLSTM(UNITS)
    layer.build(x.shape)  # Keras's initialisers: glorot, orthogonal, unit forget bias
    weights = [layer.kernel, layer.recurrent_kernel, layer.bias]

    def package():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(lstm_last_output(x, *weights))
        return [loss, *tape.gradient(loss, weights)]

    variants = {
        "before": tf.function(lambda: _before(x, *weights)),
        "package": tf.function(package),
        "fused_cell": tf.function(lambda: _fused_cell(x, *weights)),
        "package_xla": tf.function(package, jit_compile=True),
    }
    expected = variants["package"]()
    for name, run in variants.items():
        for got, want in zip(run(), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3, err_msg=name)

    # One gradient array per step, all different (equal products would be computed once).
    shape = (STEPS - 1, x.shape[0], 4 * UNITS)
    dzs = tf.unstack(tf.constant(np.random.default_rng(0).random(shape, np.float32)))
    recurrent = weights[1]

    @tf.function
    def product_transpose_b():
        return [tf.matmul(dz, recurrent, transpose_b=True) for dz in dzs]

    @tf.function
    def product_transposed_copy():
        recurrent_t = tf.transpose(recurrent)
        return [dz @ recurrent_t for dz in dzs]

    timed = {**variants, "product_transpose_b": product_transpose_b}
    timed["product_transposed_copy"] = product_transposed_copy
    seconds = {name: [] for name in timed}
    for run in timed.values():
        run()  # trace and compile
    info = provenance(command=" ".join(["python", "benchmarks/lstm_step.py", *sys.argv[1:]]))
    for _ in range(args.rounds):
        for name, run in timed.items():  # interleaved: a load change hits all alike
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    median = {name: float(np.median(s)) for name, s in seconds.items()}
    rows = [
        {
            "name": name,
            "ms_median": 1e3 * median[name],
            "ms_rounds": [1e3 * s for s in seconds[name]],
            "speed_vs_package": median["package"] / median[name],
        }
        for name in timed
    ]
    for row in rows:
        print(f"{row['name']:24s} {row['ms_median']:8.1f} ms  x{row['speed_vs_package']:.2f}")
    result = {
        "provenance": {**info, "rounds": args.rounds, "sequences": int(x.shape[0])},
        "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _before(x, kernel, recurrent, bias):
    """The first hand-written backward pass; returns the loss and the weight gradients."""
    import tensorflow as tf

    n = x.shape[0]
    x_tm = tf.reshape(tf.transpose(x, [1, 0, 2]), [-1, 1])  # time-major
    z_in = tf.unstack(tf.reshape(x_tm @ kernel + bias, [STEPS, n, 4 * UNITS]))
    h = c = tf.zeros([n, UNITS])
    hs, cs, gates = [h], [c], []
    for t in range(STEPS):
        z = z_in[t] if t == 0 else z_in[t] + h @ recurrent
        zi, zf, zc, zo = tf.split(z, 4, axis=1)
        i, f, o, g = tf.sigmoid(zi), tf.sigmoid(zf), tf.sigmoid(zo), tf.tanh(zc)
        c = f * c + i * g
        h = o * tf.tanh(c)
        gates.append((i, f, g, o))
        cs.append(c)
        hs.append(h)
    dh, dc, dzs = tf.ones_like(h), tf.zeros_like(h), []
    for t in reversed(range(STEPS)):
        i, f, g, o = gates[t]
        tc = tf.tanh(cs[t + 1])
        dc = dc + dh * o * (1.0 - tc * tc)
        dz = [dc * g * i * (1.0 - i), dc * cs[t] * f * (1.0 - f), dc * i * (1.0 - g * g)]
        dzs.append(tf.concat([*dz, dh * tc * o * (1.0 - o)], axis=1))
        dc = dc * f
        dh = tf.matmul(dzs[-1], recurrent, transpose_b=True)
    dzs = dzs[::-1]
    d_rec = tf.matmul(tf.concat(hs[1:-1], 0), tf.concat(dzs[1:], 0), transpose_a=True)
    dz_all = tf.concat(dzs, 0)
    d_kernel = tf.matmul(x_tm, dz_all, transpose_a=True)
    return [tf.reduce_sum(h), d_kernel, d_rec, tf.reduce_sum(dz_all, 0)]


def _fused_cell(x, kernel, recurrent, bias):
    """The same pass on ``LSTMBlockCell``/``LSTMBlockCellGrad`` (gate order i, c, f, o)."""
    import tensorflow as tf

    u = UNITS
    order = np.concatenate([np.arange(0, u), np.arange(2 * u, 3 * u), np.arange(u, 2 * u)])
    order = np.concatenate([order, np.arange(3 * u, 4 * u)])  # Keras's i, f, c, o -> i, c, f, o
    w = tf.gather(tf.concat([kernel, recurrent], 0), order, axis=1)
    b, none = tf.gather(bias, order), tf.zeros([u])
    peep = {"wci": none, "wcf": none, "wco": none, "use_peephole": False}
    x_tm = tf.unstack(tf.transpose(x, [1, 0, 2]))
    h = c = tf.zeros([x.shape[0], u])
    hs, cs, outs = [h], [c], []
    for t in range(STEPS):
        out = tf.raw_ops.LSTMBlockCell(
            x=x_tm[t], cs_prev=c, h_prev=h, w=w, b=b, forget_bias=0.0, cell_clip=-1.0, **peep
        )
        outs.append(out)
        c, h = out[1], out[6]
        cs.append(c)
        hs.append(h)
    dh, dc, dzs = tf.ones_like(h), tf.zeros_like(h), []
    recurrent_t = tf.transpose(w[1:])
    for t in reversed(range(STEPS)):
        state = {"x": x_tm[t], "cs_prev": cs[t], "h_prev": hs[t], "w": w, "b": b}
        gates = dict(zip(("i", "cs", "f", "o", "ci", "co"), outs[t][:6], strict=True))
        grads = tf.raw_ops.LSTMBlockCellGrad(**state, **gates, cs_grad=dc, h_grad=dh, **peep)
        dc, dz = grads[0], grads[1]
        dzs.append(dz)
        dh = dz @ recurrent_t
    dzs = dzs[::-1]
    back = np.argsort(order)
    d_rec = tf.matmul(tf.concat(hs[1:-1], 0), tf.concat(dzs[1:], 0), transpose_a=True)
    dz_all = tf.concat(dzs, 0)
    d_kernel = tf.matmul(tf.concat(x_tm, 0), dz_all, transpose_a=True)
    grads = [tf.gather(g, back, axis=-1) for g in (d_kernel, d_rec, tf.reduce_sum(dz_all, 0))]
    return [tf.reduce_sum(h), *grads]


if __name__ == "__main__":
    main()
