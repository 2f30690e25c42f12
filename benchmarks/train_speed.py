"""Training speed of the two-layer LSTM on CPU: configurations side by side.

Every configuration trains its own copy of the same model (same initial
weights, same images in the same order). Training is cut into stretches of
``chunk`` images, run round-robin across the configurations (the order rotates
every round), so that a change of machine load hits all of them alike. For
each configuration the script reports

* ``images_per_s``: the median over the timed stretches after the first
  (the first one traces and compiles: warm-up), timed from the first batch to
  the end of training inside each ``model.fit`` call (``images_per_s_whole_fit_calls``
  keeps the speeds with ``fit``'s per-call set-up and tear-down included);
* ``ratio_to_keras_example``: the median, over rounds, of its speed divided by
  the Keras example's speed in the same round;
* ``val_accuracy`` / ``test_accuracy`` after the same number of images seen,
  and a validation curve against cumulative training time.

Usage (from the repository root)::

    export FASHION_MNIST_DIR=/path/to/fashion-mnist
    python benchmarks/train_speed.py --json benchmarks/results/train_speed.json
    python benchmarks/train_speed.py --quick            # about a minute

The module is importable (the appendix notebook calls :func:`run` on a few
steps in the smoke profile). This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "notebooks") not in sys.path:
    sys.path.insert(0, str(ROOT / "notebooks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fmnist_rnn import data, training  # noqa: E402
from fmnist_rnn.models import two_layer_lstm  # noqa: E402
from fmnist_rnn.training import DEFAULT, KERAS_EXAMPLE, TrainConfig  # noqa: E402


@keras.saving.register_keras_serializable(package="benchmarks")
class BlockLSTM(keras.layers.Layer):
    """``keras.layers.LSTM(units)`` on TensorFlow's fused CPU kernel ``BlockLSTMV2``.

    Same weights as Keras; ``BlockLSTMV2`` (unlike ``BlockLSTM``) takes the gates
    in Keras's order i, f, c, o and adds no forget bias (the forward pass
    matches ``keras.layers.LSTM``). The gradient is TensorFlow's registered one
    (``BlockLSTMGradV2``), which does NOT match ``keras.layers.LSTM``'s gradient
    for the same weights (checked numerically with TensorFlow 2.21); it is
    measured as TensorFlow provides it.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape) -> None:
        """Same three weights as ``keras.layers.LSTM``."""
        u = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * u), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * u,), initializer="zeros", name="bias")

    def call(self, x):
        """Last hidden state, (batch, units)."""
        zeros = tf.zeros(tf.stack([tf.shape(x)[0], self.units]))
        peephole = tf.zeros([self.units])
        outputs = tf.raw_ops.BlockLSTMV2(
            seq_len_max=tf.cast(tf.shape(x)[1], tf.int64),
            x=tf.transpose(x, [1, 0, 2]),
            cs_prev=zeros,
            h_prev=zeros,
            w=tf.concat([self.kernel, self.recurrent_kernel], axis=0),
            wci=peephole,
            wcf=peephole,
            wco=peephole,
            b=self.bias,
            cell_clip=0.0,  # 0 disables clipping
            use_peephole=False,
        )
        return outputs[6][-1]

    def compute_output_shape(self, input_shape):
        """(batch, units)."""
        return (input_shape[0], self.units)


def block_lstm_model(units: int = 128) -> keras.Model:
    """The two-layer LSTM (columns) on ``BlockLSTMV2``; same weights as ``two_layer_lstm``."""
    from fmnist_rnn.models import FoldLines, UnfoldLines

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Permute((2, 1, 3))(inputs)
    x = UnfoldLines()(BlockLSTM(units)(FoldLines()(x)))
    x = BlockLSTM(units)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="two_layer_lstm_block")


Entry = tuple[TrainConfig, Callable[..., keras.Model]]


def same_settings(a: TrainConfig, b: TrainConfig) -> bool:
    """True when two configurations train alike (names and descriptions aside)."""
    return a.replace(name="", description="") == b.replace(name="", description="")


def configurations(quick: bool = False) -> list[Entry]:
    """The configurations to compare; the first is the Keras example (the reference)."""
    fast = {"implementation": "fast"}
    skip = {"implementation": "fast", "skip_blank": True}
    skip_bf16 = {**skip, "matmul_dtype": "bfloat16"}
    keras_b256 = KERAS_EXAMPLE.scaled(256, name="keras_b256")
    entries: list[Entry] = [
        (KERAS_EXAMPLE, two_layer_lstm),
        (KERAS_EXAMPLE.replace(name="fast_lstm", model_kwargs=fast), two_layer_lstm),
        (DEFAULT, two_layer_lstm),
    ]
    if quick:
        return entries
    entries += [
        (KERAS_EXAMPLE.replace(name="fast_lstm_skip_bf16", model_kwargs=skip_bf16), two_layer_lstm),
        (
            KERAS_EXAMPLE.replace(
                name="keras_rnn_cell", model_kwargs={"implementation": "keras_rnn_cell"}
            ),
            two_layer_lstm,
        ),
        (KERAS_EXAMPLE.replace(name="tf_block_lstm"), block_lstm_model),
        (keras_b256, two_layer_lstm),
        (keras_b256.replace(name="keras_b256_bf16", precision="mixed_bfloat16"), two_layer_lstm),
        (keras_b256.replace(name="keras_b256_xla", jit_compile=True), two_layer_lstm),
        (
            KERAS_EXAMPLE.replace(model_kwargs=skip).scaled(128, name="fast_skip_b128"),
            two_layer_lstm,
        ),
        (
            KERAS_EXAMPLE.replace(model_kwargs=skip).scaled(256, name="fast_skip_b256"),
            two_layer_lstm,
        ),
    ]
    return entries


def provenance(argv: list[str] | None = None) -> dict:
    """Where and with what the numbers were measured."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            lines = handle.read().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in lines if "model name" in line)
        flags = next(line.split(":", 1)[1].split() for line in lines if line.startswith("flags"))
        isa = sorted(f for f in flags if f.startswith(("avx512_bf16", "amx", "avx512f")))
    except (OSError, StopIteration):
        isa = []
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "benchmarks", "notebooks"],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    except OSError:
        commit, dirty = "unknown", []
    return {
        "command": " ".join(argv if argv is not None else sys.argv),
        "git_commit": commit,
        "git_uncommitted": [line for line in dirty if line.endswith(".py")],
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cpu_flags": isa,
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "data_md5": dict(data.MD5SUMS),
        "data_source": data.data_source(),
    }


class _Timer(keras.callbacks.Callback):
    """Seconds from the start of the first training batch to the end of training.

    This leaves out ``model.fit``'s own set-up and tear-down, which a real run
    pays once, not once per stretch (with TensorFlow 2.21 / Keras 3.15 we saw
    it add seconds to every call, the same for every configuration).
    """

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def run(
    entries: list[Entry],
    splits: data.Splits,
    chunk: int = 2048,
    rounds: int = 6,
    val_images: int = 1000,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Train every entry for ``rounds`` stretches of ``chunk`` images, interleaved.

    Returns one dict per entry (the table rows, see the module docstring);
    ``entries[0]`` is the reference for the ratios.
    """
    keras.utils.set_random_seed(seed)
    initial = two_layer_lstm().get_weights()
    x_train, y_train = splits.x_train, splits.y_train
    order = np.random.default_rng(seed).permutation(len(y_train))
    need = chunk * rounds
    order = np.concatenate([order] * (need // len(order) + 1))[:need]
    x_val = training.prepare(splits.x_val[:val_images])
    y_val = splits.y_val[:val_images]

    # Accuracy is measured on a float32 FastLSTM copy (the same function, checked
    # in tests/test_models.py), so evaluation costs the same for every entry.
    evaluator = training.compile_model(
        two_layer_lstm(implementation="fast", skip_blank=True), KERAS_EXAMPLE
    )

    def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
        evaluator.set_weights(model.get_weights())
        return float(evaluator.evaluate(x, y, batch_size=500, verbose=0)[1])

    models = []
    for config, builder in entries:
        model = training.build_model(builder, config)
        model.set_weights(initial)
        models.append(training.compile_model(model, config))
    speeds = [[] for _ in entries]
    call_speeds = [[] for _ in entries]
    curves = [[] for _ in entries]
    clock = [0.0 for _ in entries]
    loads = []
    for r in range(rounds):
        index = order[r * chunk : (r + 1) * chunk]
        x_chunk, y_chunk = training.prepare(x_train[index]), y_train[index]
        for k in range(len(entries)):
            j = (k + r) % len(entries)  # rotate the order every round
            config, model = entries[j][0], models[j]
            timer = _Timer()
            start = time.perf_counter()
            model.fit(
                x_chunk,
                y_chunk,
                batch_size=config.batch_size,
                shuffle=False,
                verbose=0,
                callbacks=[timer],
            )
            call_speeds[j].append(chunk / (time.perf_counter() - start))
            seconds = timer.seconds
            clock[j] += seconds
            speeds[j].append(chunk / seconds)
            val = accuracy(model, x_val, y_val)
            curves[j].append(
                {"images": chunk * (r + 1), "train_seconds": clock[j], "val_accuracy": val}
            )
            log(
                f"round {r + 1}/{rounds} {config.name:22s} {chunk / seconds:8.1f} images/s "
                f"val {val:.4f}"
            )
        loads.append(os.getloadavg()[0])
    timed = slice(1, None) if rounds > 1 else slice(None)
    x_val_all, x_test = training.prepare(splits.x_val), training.prepare(splits.x_test)
    rows = []
    for j, (config, builder) in enumerate(entries):
        per_round = [s / ref for s, ref in zip(speeds[j][timed], speeds[0][timed], strict=True)]
        rows.append(
            {
                "name": config.name,
                "description": config.description,
                "builder": builder.__name__,
                "batch_size": config.batch_size,
                "optimizer": config.optimizer,
                "learning_rate": config.learning_rate,
                "warmup_images": config.warmup_images,
                "precision": config.precision,
                "jit_compile": config.jit_compile,
                "model_kwargs": dict(config.model_kwargs),
                "images_per_s": statistics.median(speeds[j][timed]),
                "images_per_s_stretches": speeds[j],
                "images_per_s_whole_fit_calls": call_speeds[j],
                "ratio_to_keras_example": statistics.median(per_round),
                "images_seen": need,
                "val_accuracy": accuracy(models[j], x_val_all, splits.y_val),
                "test_accuracy": accuracy(models[j], x_test, splits.y_test),
                "curve": curves[j],
                "default": same_settings(config, DEFAULT),
            }
        )
    rows[0]["load_average_per_round"] = loads
    return rows


def table(rows: list[dict]) -> str:
    """The result as a plain-text table."""
    lines = [
        f"{'configuration':22s} {'batch':>5s} {'images/s':>9s} {'ratio':>6s} "
        f"{'val acc':>8s} {'test acc':>8s}"
    ]
    for row in rows:
        mark = "  <- DEFAULT" if row["default"] else ""
        lines.append(
            f"{row['name']:22s} {row['batch_size']:5d} {row['images_per_s']:9.1f} "
            f"{row['ratio_to_keras_example']:6.2f} {row['val_accuracy']:8.4f} "
            f"{row['test_accuracy']:8.4f}{mark}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Command line entry point; returns the result written with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 configurations, ~1 minute")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    parser.add_argument("--chunk", type=int, help="images per timed stretch")
    parser.add_argument("--rounds", type=int, help="timed stretches per configuration")
    parser.add_argument("--only", help="comma-separated configuration names to run")
    parser.add_argument("--val-images", type=int, help="validation images per curve point")
    parser.add_argument("--threads", type=int, help="TensorFlow intra-op threads (default: TF's)")
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    entries = configurations(quick=args.quick)
    if args.only:
        names = ["keras_example", *args.only.split(",")]
        entries = [e for e in entries if e[0].name in names]
    chunk = args.chunk or (512 if args.quick else 2048)
    rounds = args.rounds or (3 if args.quick else 6)
    splits = data.load_splits()
    load_before = os.getloadavg()
    started = time.time()
    # Provenance is read before training, so that it describes the code that ran.
    info = provenance(["python", "benchmarks/train_speed.py", *(argv or sys.argv[1:])])
    val_images = args.val_images or (500 if args.quick else 1000)
    rows = run(entries, splits, chunk=chunk, rounds=rounds, val_images=val_images)
    result = {
        "provenance": {
            **info,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "wall_seconds": time.time() - started,
            "chunk_images": chunk,
            "rounds": rounds,
            "val_images_per_curve_point": val_images,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "profile": os.environ.get("FMNIST_PROFILE", "full"),
        },
        "configurations": rows,
    }
    print(table(rows))
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
