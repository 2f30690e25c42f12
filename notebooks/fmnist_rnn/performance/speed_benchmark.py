"""Training speed of set-ups side by side: same weights, same images, interleaved stretches.

Every configuration trains its own copy of the same model (same initial weights,
same images in the same order). Training is cut into stretches of ``chunk``
images, run round-robin (the order rotates every round; one configuration computes
at a time), so that a change of machine load hits all of them alike. Per
configuration :func:`run` reports ``images_per_s`` (median over the stretches
after the first, which traces the graph, timed in each ``model.fit`` call from its
first batch to the end of its last), ``ratio_to_keras_example`` (median over rounds
of its speed over the first configuration's in the same round), validation and
test accuracy after the same images, and a validation curve against training time.

TensorFlow's thread pools are per process and fixed by its first operation, so
when some configuration sets ``threads``, the configurations train in worker
processes, each a one-process ``concurrent.futures.ProcessPoolExecutor`` (``spawn``
start method) whose initializer sets the pools (or leaves TensorFlow's defaults)
before TensorFlow runs anything. The reference (the first configuration) trains
alone in one; the others share one per distinct thread setting. Alone, because the
Keras example trained slower when it shared its process with the other
configurations on TensorFlow's default pools (``benchmarks/README.md``), which
inflated the ratios of the configurations that trained in other processes; a process
per configuration would be fairer still, but fifteen of them do not fit in the
memory of the machine that measured the committed results. Otherwise everything
trains in this process. Either way the workers only train: every accuracy is
computed here, by one :class:`Evaluator`, from the weights each stretch returns.
``benchmarks/train_speed.py`` is the command line.
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

__all__ = ["Evaluator", "StretchTrainer", "current_threads", "run", "table"]


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

    ``arrays`` holds the uint8 training images ``x_train`` and labels ``y_train`` of
    all stretches, in order. It only trains: every accuracy is computed by the
    caller's :class:`Evaluator`, from the weights each stretch returns.
    """

    def __init__(self, configs: dict[int, TrainConfig], arrays, initial, chunk: int) -> None:
        self.configs, self.arrays, self.chunk = configs, arrays, chunk
        self.clock = dict.fromkeys(configs, 0.0)
        self.models = {}
        for j, config in configs.items():
            model = config.build()
            model.set_weights(initial)
            self.models[j] = config.compile(model)

    def train(self, j: int, r: int) -> dict:
        """Train configuration ``j`` on stretch ``r``; its timings and weights after it."""
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
            "weights": self.models[j].get_weights(),
        }

    def where(self, j: int) -> dict:
        """The thread pools and the process configuration ``j`` trained in."""
        return {"threads": current_threads(), "process_id": os.getpid()}


class Evaluator:
    """Accuracy of any configuration's weights on one float32 ``FastLSTM`` copy.

    The same function as every configuration's model (``tests/test_fast_lstm.py``),
    so evaluation costs the same for all of them; it is never timed, and it runs in
    the calling process, so that worker processes hold only what they train.
    """

    def __init__(self) -> None:
        self.model = KERAS_EXAMPLE.compile(fast_two_layer_lstm(skip_blank=True))

    def accuracy(self, weights: list, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of ``weights`` on uint8 images ``x`` and labels ``y``."""
        self.model.set_weights(weights)
        return float(self.model.evaluate(prepare(x), y, batch_size=500, verbose=0)[1])


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
    ``threads``, the reference trains alone in a worker process, and the others in one
    worker process per distinct thread setting (``None``: TensorFlow's default pools);
    ``timeout`` bounds every request to a worker. ``chosen`` marks the row with the
    same settings as ``"default": true``.
    """
    keras.utils.set_random_seed(seed)
    initial = KERAS_EXAMPLE.build().get_weights()
    order = np.random.default_rng(seed).permutation(len(splits.y_train))
    need = chunk * rounds
    order = np.concatenate([order] * (need // len(order) + 1))[:need]
    arrays = {"x_train": splits.x_train[order], "y_train": splits.y_train[order]}
    evaluator = Evaluator()
    x_curve, y_curve = splits.x_val[:val_images], splits.y_val[:val_images]
    workers = any(c.threads is not None for c in configs)
    speeds, call_speeds, curves = ([[] for _ in configs] for _ in range(3))
    weights: list = [None] * len(configs)
    loads = []
    with contextlib.ExitStack() as stack:
        if workers:
            groups: dict = {}  # the reference alone; the others by thread setting
            for j, config in enumerate(configs):
                groups.setdefault("reference" if j == 0 else config.threads, []).append(j)
            spawn = multiprocessing.get_context("spawn")
            ask = {}
            for indices in groups.values():
                threads = configs[indices[0]].threads or (0, 0)
                names = ", ".join(configs[j].name for j in indices)
                log(f"worker process, threads {threads}: {names}")
                pool = ProcessPoolExecutor(1, spawn, initializer=_set_threads, initargs=(threads,))
                stack.callback(pool.shutdown, wait=True, cancel_futures=True)
                mine = {j: configs[j] for j in indices}
                pool.submit(_setup, mine, arrays, initial, chunk, seed).result(timeout)

                def request(method, *args, pool=pool):
                    return pool.submit(_call, method, timeout, *args).result(timeout + 60)

                ask.update(dict.fromkeys(indices, request))
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
                weights[j] = answer["weights"]
                curves[j].append(
                    {
                        "images": chunk * (r + 1),
                        "train_seconds": answer["train_seconds"],
                        "val_accuracy": evaluator.accuracy(weights[j], x_curve, y_curve),
                    }
                )
                log(f"round {r + 1}/{rounds} {configs[j].name:24s} {speeds[j][-1]:8.1f} images/s")
            loads.append(os.getloadavg()[0])
        places = [ask[j]("where", j) for j in range(len(configs))]
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
                "threads": places[j]["threads"],
                "worker_process": workers,
                "process_id": places[j]["process_id"],
                "images_per_s": statistics.median(speeds[j][timed]),
                "images_per_s_stretches": speeds[j],
                "images_per_s_whole_fit_calls": call_speeds[j],
                "ratio_to_keras_example": statistics.median(ratios),
                "images_seen": need,
                "val_accuracy": evaluator.accuracy(weights[j], splits.x_val, splits.y_val),
                "test_accuracy": evaluator.accuracy(weights[j], splits.x_test, splits.y_test),
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
