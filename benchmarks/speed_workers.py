"""How ``train_speed.py`` trains: one stretch at a time, in this process or in workers.

:class:`_Trainer` trains some configurations stretch by stretch and answers
requests (``train``, ``final``); the same code runs in the calling process and in
a worker process. A worker is ``train_speed.py --worker`` (entry point
:func:`worker_main`), one per TensorFlow thread setting, spoken to in JSON lines
over its stdin/stdout (:class:`_Worker`, bounded waits, killed on any error);
:func:`_start_workers` starts them and sends each its configurations, the images
and the initial weights (a temporary ``.npz``). The round-robin over the
configurations stays in ``train_speed.run``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "notebooks") not in sys.path:
    sys.path.insert(0, str(ROOT / "notebooks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from speed_configs import Threads  # noqa: E402

from fmnist_rnn import training  # noqa: E402
from fmnist_rnn.models import two_layer_lstm  # noqa: E402
from fmnist_rnn.training import KERAS_EXAMPLE, TrainConfig  # noqa: E402

#: The benchmark script; a worker process is this script with ``--worker``.
SCRIPT = Path(__file__).resolve().with_name("train_speed.py")


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


def _current_threads() -> dict | None:
    """This process's TensorFlow thread setting as a table entry (None: TF's defaults)."""
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    if intra == 0 and inter == 0:
        return None
    return {"intra_op": intra, "inter_op": inter}


def _as_threads(setting: Threads | None) -> dict | None:
    """A requested setting as a table entry (None or all zeros: TF's defaults)."""
    if setting is None or setting == (0, 0):
        return None
    return {"intra_op": setting[0], "inter_op": setting[1]}


class _Trainer:
    """Trains some of the configurations, one stretch at a time.

    The same code runs in this process and in a worker process. ``arrays``
    holds uint8 images: ``x_train``/``y_train`` (all stretches, in order),
    ``x_curve``/``y_curve`` (validation images per curve point), and the whole
    ``x_val``/``y_val`` and ``x_test``/``y_test``.
    """

    def __init__(
        self,
        entries: dict[int, tuple[TrainConfig, Callable[..., keras.Model]]],
        arrays: dict[str, np.ndarray],
        initial: list[np.ndarray],
        chunk: int,
    ) -> None:
        self.entries = entries
        self.arrays = arrays
        self.chunk = chunk
        self.x_curve = training.prepare(arrays["x_curve"])
        self.prepared: tuple[int, np.ndarray] | None = None
        self.clock = dict.fromkeys(entries, 0.0)
        # Accuracy is measured on a float32 FastLSTM copy (the same function, checked
        # in tests/test_models.py), so evaluation costs the same for every entry.
        self.evaluator = training.compile_model(
            two_layer_lstm(implementation="fast", skip_blank=True), KERAS_EXAMPLE
        )
        self.models = {}
        for j, (config, builder) in entries.items():
            model = training.build_model(builder, config)
            model.set_weights(initial)
            self.models[j] = training.compile_model(model, config)

    def accuracy(self, model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of ``model``'s weights (on the evaluator copy), not timed."""
        self.evaluator.set_weights(model.get_weights())
        return float(self.evaluator.evaluate(x, y, batch_size=500, verbose=0)[1])

    def train(self, j: int, r: int) -> dict:
        """Train configuration ``j`` on stretch ``r``; its timings and validation accuracy."""
        if self.prepared is None or self.prepared[0] != r:
            x = self.arrays["x_train"][r * self.chunk : (r + 1) * self.chunk]
            self.prepared = (r, training.prepare(x))
        x_chunk = self.prepared[1]
        y_chunk = self.arrays["y_train"][r * self.chunk : (r + 1) * self.chunk]
        config, model = self.entries[j][0], self.models[j]
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
        call_seconds = time.perf_counter() - start
        self.clock[j] += timer.seconds
        return {
            "seconds": timer.seconds,
            "call_seconds": call_seconds,
            "train_seconds": self.clock[j],
            "val_accuracy": self.accuracy(model, self.x_curve, self.arrays["y_curve"]),
        }

    def final(self, j: int) -> dict:
        """Accuracy of configuration ``j`` on the whole validation and test splits."""
        a, model = self.arrays, self.models[j]
        return {
            "val_accuracy": self.accuracy(model, training.prepare(a["x_val"]), a["y_val"]),
            "test_accuracy": self.accuracy(model, training.prepare(a["x_test"]), a["y_test"]),
            "threads": _current_threads(),
        }

    def handle(self, message: dict) -> dict:
        """Answer one request (``train`` or ``final``)."""
        if message["op"] == "train":
            return self.train(message["index"], message["round"])
        if message["op"] == "final":
            return self.final(message["index"])
        raise ValueError(f"unknown request {message['op']!r}")


class WorkerError(RuntimeError):
    """A worker process failed, died or did not answer in time."""


def _builder_reference(builder: Callable[..., keras.Model]) -> dict:
    """How a worker finds ``builder``: module and name (module-level functions only)."""
    name = getattr(builder, "__qualname__", "")
    if not name or "<" in name:
        raise ValueError(
            f"builder {builder!r} is not a module-level function; a worker process cannot "
            "import it (run it without thread settings, in this process)"
        )
    return {"module": builder.__module__, "name": name}


def _resolve_builder(reference: dict) -> Callable[..., keras.Model]:
    """The builder named by :func:`_builder_reference`."""
    if reference["module"] in ("__main__", "train_speed"):
        # The benchmark script (a worker's __main__), with the names it re-exports.
        for script in (sys.modules.get("__main__"), sys.modules.get("train_speed")):
            if script is not None and hasattr(script, reference["name"]):
                return getattr(script, reference["name"])
    return getattr(importlib.import_module(reference["module"]), reference["name"])


class _Worker:
    """A worker process (``train_speed.py --worker``) for one thread setting.

    Requests and answers are single JSON lines; every wait is bounded by
    ``timeout`` seconds. :meth:`close` ends the process, killing it if needed.
    """

    def __init__(self, command: list[str], log_path: Path, timeout: float) -> None:
        self.timeout = timeout
        self.log_path = log_path
        self.buffer = b""
        self.broken = False  # after a failed request: kill, do not ask
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT
            )

    def _log_tail(self, characters: int = 3000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"\n--- end of the worker's log ({self.log_path.name}) ---\n{text[-characters:]}"

    def request(self, message: dict, timeout: float | None = None) -> dict:
        """Send ``message`` and wait (bounded) for the answer.

        Raises:
            WorkerError: the worker failed, exited or did not answer in time
                (then :meth:`close` kills it without asking).
        """
        timeout = self.timeout if timeout is None else timeout
        pid = self.process.pid
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self.broken = True
            message_text = f"worker {pid} does not take requests: {error}{self._log_tail()}"
            raise WorkerError(message_text) from error
        deadline = time.monotonic() + timeout
        stdout = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.broken = True
                raise WorkerError(
                    f"worker {pid} did not answer {message['op']!r} within {timeout:.0f} s"
                    f"{self._log_tail()}"
                )
            ready, _, _ = select.select([stdout], [], [], remaining)
            if ready:
                data = os.read(stdout, 1 << 16)
                if not data:
                    self.broken = True
                    code = self.process.wait(timeout=10)
                    raise WorkerError(
                        f"worker {pid} exited (code {code}) during {message['op']!r}"
                        f"{self._log_tail()}"
                    )
                self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        answer = json.loads(line)
        if not answer.pop("ok", False):
            self.broken = True
            raise WorkerError(f"worker {pid} failed on {message['op']!r}:\n{answer.get('error')}")
        return answer

    def close(self, timeout: float = 30.0) -> None:
        """Ask the worker to exit; kill it if it does not within ``timeout`` seconds."""
        try:
            if self.process.poll() is None and not self.broken:
                self.request({"op": "exit"}, timeout=timeout)
                self.process.wait(timeout=timeout)
        except (WorkerError, subprocess.TimeoutExpired, OSError, ValueError):
            pass
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill the process (if it still runs) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                stream.close()


def _start_workers(
    groups: dict[Threads | None, list[int]],
    entries: list[tuple[TrainConfig, Callable[..., keras.Model], Threads | None]],
    arrays: dict[str, np.ndarray],
    initial: list[np.ndarray],
    chunk: int,
    seed: int,
    folder: Path,
    timeout: float,
    stack: contextlib.ExitStack,
) -> dict[int, _Worker]:
    """One worker per thread setting, set up with its configurations; ``{entry: worker}``."""
    data_path = folder / "data.npz"
    weights = {f"initial_{i}": w for i, w in enumerate(initial)}
    np.savez(data_path, **arrays, **weights)
    workers = []
    for n, setting in enumerate(groups):
        command = [sys.executable, str(SCRIPT), "--worker"]
        if setting is not None:
            command += ["--worker-threads", f"{setting[0]},{setting[1]}"]
        worker = _Worker(command, folder / f"worker_{n}.log", timeout)
        stack.callback(worker.close)
        workers.append(worker)
    by_entry = {}
    for worker, (setting, indices) in zip(workers, groups.items(), strict=True):
        answer = worker.request(
            {
                "op": "setup",
                "data": str(data_path),
                "weights": len(initial),
                "chunk": chunk,
                "seed": seed,
                "entries": {
                    str(j): {
                        "config": dataclasses.asdict(entries[j][0]),
                        "builder": _builder_reference(entries[j][1]),
                    }
                    for j in indices
                },
            }
        )
        if answer["threads"] != _as_threads(setting):
            raise WorkerError(
                f"worker {worker.process.pid} runs with threads {answer['threads']}, "
                f"not {_as_threads(setting)}"
            )
        by_entry.update(dict.fromkeys(indices, worker))
    return by_entry


def worker_main(argv: list[str]) -> int:
    """A worker process: set the threads, then answer JSON-line requests on stdin."""
    parser = argparse.ArgumentParser(prog="train_speed.py --worker")
    parser.add_argument("--worker-threads", help="intra_op,inter_op")
    args = parser.parse_args(argv)
    # Before any TensorFlow op: the first op creates the thread pools.
    if args.worker_threads:
        intra, inter = (int(t) for t in args.worker_threads.split(","))
        if not training.set_threads(intra, inter):
            raise RuntimeError(f"could not set TensorFlow threads to ({intra}, {inter})")
    # Answers go to the original stdout; anything else printed goes to stderr (the log).
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    trainer = None
    while line := sys.stdin.readline():
        message = json.loads(line)
        try:
            if message["op"] == "exit":
                answer = {}
            elif message["op"] == "setup":
                keras.utils.set_random_seed(message["seed"])
                with np.load(message["data"]) as npz:
                    arrays = dict(npz)
                initial = [arrays.pop(f"initial_{i}") for i in range(message["weights"])]
                entries = {
                    int(j): (TrainConfig(**e["config"]), _resolve_builder(e["builder"]))
                    for j, e in message["entries"].items()
                }
                trainer = _Trainer(entries, arrays, initial, message["chunk"])
                answer = {"threads": _current_threads()}
            else:
                answer = trainer.handle(message)
            answer["ok"] = True
        except Exception:
            answer = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
        if message.get("op") == "exit":
            break
    return 0
