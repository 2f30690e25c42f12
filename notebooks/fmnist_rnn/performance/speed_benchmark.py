"""Training speed of set-ups side by side: same weights, same images, interleaved stretches.

Every configuration trains its own copy of the same model (same initial weights,
same images in the same order). Training is cut into stretches of ``chunk``
images, run round-robin (the order rotates every round; one configuration computes
at a time), so that a change of machine load hits all of them alike. Per
configuration :func:`run` reports ``images_per_s`` (median over the stretches
after the first, which traces the graph, timed from the first batch to the end
of each ``model.fit`` call), ``ratio_to_keras_example`` (median over rounds of its
speed over the first configuration's in the same round), validation and test
accuracy after the same images, and a validation curve against training time.

TensorFlow's thread pools are per process and fixed by its first operation, so
when some configuration sets ``threads``, every configuration trains alone in a
worker process of its own: a one-process
``concurrent.futures.ProcessPoolExecutor`` (``spawn`` start method), whose
initializer sets the pools (or leaves TensorFlow's defaults) before TensorFlow runs
anything. Alone, because the Keras example trained slower when it shared its process
with other configurations than alone (``benchmarks/README.md``), which tilted the
ratios towards the configurations that had a process to themselves. Otherwise everything runs in
this process. ``benchmarks/train_speed.py`` is the command line.
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import keras
import numpy as np
import tensorflow as tf

from .configurations import KERAS_EXAMPLE, TrainConfig
from .fast_lstm import fast_two_layer_lstm
from .hardware import FastPath, apply_threads

__all__ = ["StretchTrainer", "current_threads", "run", "table"]


def current_threads() -> dict | None:
    """This process's TensorFlow pools as a table entry (None: TensorFlow's defaults)."""
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    return None if intra == inter == 0 else {"intra_op": intra, "inter_op": inter}


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


class _Timer(keras.callbacks.Callback):
    """Seconds from the first training batch to the end of training (no ``fit`` set-up)."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


class StretchTrainer:
    """Trains some configurations stretch by stretch (in this process or in a worker).

    ``arrays`` holds uint8 ``x_train``/``y_train`` (all stretches, in order),
    ``x_curve``/``y_curve`` (validation images per curve point) and the whole
    validation and test splits.
    """

    def __init__(self, configs: dict[int, TrainConfig], arrays, initial, chunk: int) -> None:
        self.configs, self.arrays, self.chunk = configs, arrays, chunk
        self.x_curve = prepare(arrays["x_curve"])
        self.clock = dict.fromkeys(configs, 0.0)
        # Accuracy on a float32 FastLSTM copy (the same function, tests/test_fast_lstm.py),
        # so that evaluation costs the same for every configuration; never timed.
        self.evaluator = KERAS_EXAMPLE.compile(fast_two_layer_lstm(skip_blank=True))
        self.models = {}
        for j, config in configs.items():
            model = config.build()
            model.set_weights(initial)
            self.models[j] = config.compile(model)

    def accuracy(self, j: int, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of configuration ``j``'s weights (on the evaluator copy)."""
        self.evaluator.set_weights(self.models[j].get_weights())
        return float(self.evaluator.evaluate(x, y, batch_size=500, verbose=0)[1])

    def train(self, j: int, r: int) -> dict:
        """Train configuration ``j`` on stretch ``r``; its timings and validation accuracy."""
        part = slice(r * self.chunk, (r + 1) * self.chunk)
        timer, start = _Timer(), time.perf_counter()
        self.models[j].fit(
            prepare(self.arrays["x_train"][part]),
            self.arrays["y_train"][part],
            batch_size=self.configs[j].batch_size,
            shuffle=False,
            verbose=0,
            callbacks=[timer],
        )
        call_seconds = time.perf_counter() - start
        self.clock[j] += timer.seconds
        return {
            "seconds": timer.seconds,
            "call_seconds": call_seconds,
            "train_seconds": self.clock[j],
            "val_accuracy": self.accuracy(j, self.x_curve, self.arrays["y_curve"]),
        }

    def final(self, j: int) -> dict:
        """Accuracy on the whole validation and test splits; the pools and process trained in."""
        a = self.arrays
        return {
            "val_accuracy": self.accuracy(j, prepare(a["x_val"]), a["y_val"]),
            "test_accuracy": self.accuracy(j, prepare(a["x_test"]), a["y_test"]),
            "threads": current_threads(),
            "process_id": os.getpid(),
        }


# --- what a worker process runs (module-level functions: the spawn context pickles them by name)
_WORKER: StretchTrainer | None = None


def _set_threads(threads: tuple[int, int]) -> None:
    """Initializer of a worker process: TensorFlow's pools, before its first operation."""
    if not apply_threads(FastPath("fast", 1, threads, "benchmark worker")):
        raise RuntimeError(f"could not set TensorFlow's thread pools to {threads}")


def _setup(configs, arrays, initial, chunk, seed) -> dict | None:
    global _WORKER
    keras.utils.set_random_seed(seed)
    _WORKER = StretchTrainer(configs, arrays, initial, chunk)
    return current_threads()


def _call(method: str, timeout: float, *args) -> dict:
    """Run ``_WORKER.<method>(*args)``; a call over ``timeout`` s ends this process."""
    faulthandler.dump_traceback_later(timeout, exit=True)  # a hang becomes a dead worker
    try:
        return getattr(_WORKER, method)(*args)
    finally:
        faulthandler.cancel_dump_traceback_later()


def run(
    configs: list[TrainConfig],
    splits,
    chunk: int = 2048,
    rounds: int = 6,
    val_images: int = 1000,
    seed: int = 0,
    log: Callable[[str], None] = print,
    timeout: float = 3600.0,
    chosen: TrainConfig | None = None,
) -> list[dict]:
    """Train every configuration for ``rounds`` stretches of ``chunk`` images, interleaved.

    ``configs[0]`` is the reference of the ratios. If any configuration sets
    ``threads``, each configuration trains in a worker process of its own (on its
    ``threads``, or on TensorFlow's default pools); ``timeout`` bounds every request
    to a worker. ``chosen`` marks the row with the same settings as ``"default": true``.
    """
    keras.utils.set_random_seed(seed)
    initial = KERAS_EXAMPLE.build().get_weights()
    order = np.random.default_rng(seed).permutation(len(splits.y_train))
    need = chunk * rounds
    order = np.concatenate([order] * (need // len(order) + 1))[:need]
    arrays = {
        "x_train": splits.x_train[order],
        "y_train": splits.y_train[order],
        "x_curve": splits.x_val[:val_images],
        "y_curve": splits.y_val[:val_images],
        "x_val": splits.x_val,
        "y_val": splits.y_val,
        "x_test": splits.x_test,
        "y_test": splits.y_test,
    }
    workers = any(c.threads is not None for c in configs)
    speeds, call_speeds, curves = ([[] for _ in configs] for _ in range(3))
    loads = []
    with contextlib.ExitStack() as stack:
        if workers:
            spawn = multiprocessing.get_context("spawn")
            ask = {}
            for j, config in enumerate(configs):
                threads = config.threads or (0, 0)
                log(f"worker process, threads {threads}: {config.name}")
                pool = ProcessPoolExecutor(1, spawn, initializer=_set_threads, initargs=(threads,))
                stack.callback(pool.shutdown, wait=True, cancel_futures=True)
                pool.submit(_setup, {j: config}, arrays, initial, chunk, seed).result(timeout)

                def request(method, *args, pool=pool):
                    return pool.submit(_call, method, timeout, *args).result(timeout + 60)

                ask[j] = request
        else:
            trainer = StretchTrainer(dict(enumerate(configs)), arrays, initial, chunk)
            ask = dict.fromkeys(
                range(len(configs)), lambda method, *a: getattr(trainer, method)(*a)
            )
        for r in range(rounds):
            for k in range(len(configs)):
                j = (k + r) % len(configs)  # rotate the order every round
                answer = ask[j]("train", j, r)
                speeds[j].append(chunk / answer["seconds"])
                call_speeds[j].append(chunk / answer["call_seconds"])
                curves[j].append(
                    {
                        "images": chunk * (r + 1),
                        "train_seconds": answer["train_seconds"],
                        "val_accuracy": answer["val_accuracy"],
                    }
                )
                log(f"round {r + 1}/{rounds} {configs[j].name:24s} {speeds[j][-1]:8.1f} images/s")
            loads.append(os.getloadavg()[0])
        finals = [ask[j]("final", j) for j in range(len(configs))]
    timed = slice(1, None) if rounds > 1 else slice(None)
    rows = []
    for j, config in enumerate(configs):
        ratios = [s / ref for s, ref in zip(speeds[j][timed], speeds[0][timed], strict=True)]
        rows.append(
            {
                "name": config.name,
                "description": config.description,
                "model": config.model,
                "model_kwargs": dict(config.model_kwargs),
                **{k: getattr(config, k) for k in ("batch_size", "optimizer", "learning_rate")},
                **{k: getattr(config, k) for k in ("warmup_images", "precision", "jit_compile")},
                "threads": finals[j]["threads"],
                "worker_process": workers,
                "process_id": finals[j]["process_id"],
                "images_per_s": statistics.median(speeds[j][timed]),
                "images_per_s_stretches": speeds[j],
                "images_per_s_whole_fit_calls": call_speeds[j],
                "ratio_to_keras_example": statistics.median(ratios),
                "images_seen": need,
                "val_accuracy": finals[j]["val_accuracy"],
                "test_accuracy": finals[j]["test_accuracy"],
                "curve": curves[j],
                "default": chosen is not None and config.same_settings(chosen),
            }
        )
    rows[0]["load_average_per_round"] = loads
    return rows


def table(rows: list[dict]) -> str:
    """The result as plain text (threads: intra-op/inter-op, TF: TensorFlow's defaults)."""
    lines = [f"{'configuration':24s} {'batch':>5s} {'threads':>7s} {'images/s':>9s} {'ratio':>6s}"]
    lines[0] += f" {'val acc':>8s} {'test acc':>8s}"
    for row in rows:
        t = row.get("threads")
        threads = "TF" if t is None else f"{t['intra_op']}/{t['inter_op']}"
        lines.append(
            f"{row['name']:24s} {row['batch_size']:5d} {threads:>7s} {row['images_per_s']:9.1f} "
            f"{row['ratio_to_keras_example']:6.2f} {row['val_accuracy']:8.4f} "
            f"{row['test_accuracy']:8.4f}" + ("  <- chosen" if row["default"] else "")
        )
    return "\n".join(lines)
