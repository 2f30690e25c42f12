"""Training speed of the two-layer LSTM on CPU: configurations side by side.

Every configuration trains its own copy of the same model (same initial
weights, same images in the same order). Training is cut into stretches of
``chunk`` images, run round-robin across the configurations (the order rotates
every round, and only one configuration computes at a time), so that a change
of machine load hits all of them alike. For each configuration the script
reports

* ``images_per_s``: the median over the timed stretches after the first
  (the first one traces and compiles: warm-up), timed from the first batch to
  the end of training inside each ``model.fit`` call (``images_per_s_whole_fit_calls``
  keeps the speeds with ``fit``'s per-call set-up and tear-down included);
* ``ratio_to_keras_example``: the median, over rounds, of its speed divided by
  the Keras example's speed in the same round;
* ``val_accuracy`` / ``test_accuracy`` after the same number of images seen,
  and a validation curve against cumulative training time;
* ``threads``: the TensorFlow thread setting it trained under (``null``: TF's
  defaults).

TensorFlow's thread pools are per process and fixed by the first op, so a
configuration may ask for its own setting (``threads=(intra_op, inter_op)``,
the third element of an entry). Then every distinct setting, the defaults
included, gets its own worker process (this script with ``--worker``, JSON
lines over stdin/stdout); the parent keeps the round-robin and waits for each
stretch before starting the next. Without any thread setting everything runs
in this process.

Usage (from the repository root)::

    export FASHION_MNIST_DIR=/path/to/fashion-mnist
    python benchmarks/train_speed.py --rounds 6 --chunk 2048 \
        --json benchmarks/results/train_speed.json
    python benchmarks/train_speed.py --quick            # about a minute
    python benchmarks/train_speed.py --only fast_skip_chains2_t1 --chunk 512 --rounds 3

The module is importable (the appendix notebook calls :func:`run` on a few
steps in the smoke profile). This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import importlib
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
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


#: TensorFlow threads of one configuration: (intra_op, inter_op); 0 leaves that one
#: to TensorFlow (as in ``tf.config.threading``).
Threads = tuple[int, int]

#: ``(config, builder)`` trains under the calling process's threads (TensorFlow's
#: defaults unless ``--threads``); ``(config, builder, (intra_op, inter_op))`` in a
#: worker process of its own thread setting.
Entry = (
    tuple[TrainConfig, Callable[..., keras.Model]]
    | tuple[TrainConfig, Callable[..., keras.Model], Threads | None]
)


def unpack(entry: Entry) -> tuple[TrainConfig, Callable[..., keras.Model], Threads | None]:
    """``(config, builder, threads)`` of an entry; ``threads`` is None when it sets none."""
    if len(entry) == 2:
        config, builder = entry
        return config, builder, None
    config, builder, threads = entry
    if threads is None:
        return config, builder, None
    if len(threads) != 2 or not all(isinstance(t, int) and t >= 0 for t in threads):
        raise ValueError(
            f"{config.name}: threads must be (intra_op, inter_op), integers >= 0, got {threads!r}"
        )
    return config, builder, (threads[0], threads[1])


def same_settings(a: TrainConfig, b: TrainConfig) -> bool:
    """True when two configurations train alike (names and descriptions aside)."""
    return a.replace(name="", description="") == b.replace(name="", description="")


def configurations(quick: bool = False) -> list[Entry]:
    """The configurations to compare; the first is the Keras example (the reference).

    ``quick`` keeps the first three, which all run under the calling process's
    threads (no worker processes).
    """
    fast = {"implementation": "fast"}
    skip = {"implementation": "fast", "skip_blank": True}
    skip_bf16 = {**skip, "matmul_dtype": "bfloat16"}
    chains2 = {**DEFAULT.model_kwargs, "chains": 2}
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
        # Thread settings: each distinct one trains in a worker process of its own.
        (
            DEFAULT.replace(
                name="fast_skip_1thread",
                description="DEFAULT on one intra-op and one inter-op thread",
            ),
            two_layer_lstm,
            (1, 1),
        ),
        (
            DEFAULT.replace(
                name="fast_skip_chains2",
                model_kwargs=chains2,
                description="DEFAULT, batch cut into 2 independent loops, TF's threads",
            ),
            two_layer_lstm,
        ),
        (
            DEFAULT.replace(
                name="fast_skip_chains2_t1",
                model_kwargs=chains2,
                description="DEFAULT, batch cut into 2 independent loops, 1 intra-op, 2 inter-op",
            ),
            two_layer_lstm,
            (1, 2),
        ),
        (
            KERAS_EXAMPLE.replace(
                model_kwargs=chains2,
                description="FastLSTM, blanks skipped, 2 loops, batch 64, 1 intra-op, 2 inter-op",
            ).scaled(64, name="fast_skip_b64_chains2_t1"),
            two_layer_lstm,
            (1, 2),
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
    here = reference["module"] in ("__main__", "train_speed", __name__)
    if here and reference["name"] in globals():
        return globals()[reference["name"]]
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
        command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
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
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
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


def run(
    entries: list[Entry],
    splits: data.Splits,
    chunk: int = 2048,
    rounds: int = 6,
    val_images: int = 1000,
    seed: int = 0,
    log: Callable[[str], None] = print,
    workers: bool | None = None,
    timeout: float = 3600.0,
) -> list[dict]:
    """Train every entry for ``rounds`` stretches of ``chunk`` images, interleaved.

    Returns one dict per entry (the table rows, see the module docstring);
    ``entries[0]`` is the reference for the ratios.

    Args:
        entries: ``(config, builder)`` or ``(config, builder, threads)``.
        workers: None (default): worker processes, one per distinct thread
            setting, exactly when some entry sets threads (entries without one
            get this process's setting); True: always; False: never (then no
            entry may set threads).
        timeout: seconds to wait for any one answer of a worker before
            killing all of them (set-up, one stretch, final accuracy).
    """
    unpacked = [unpack(entry) for entry in entries]
    asked = any(threads is not None for _, _, threads in unpacked)
    if workers is None:
        workers = asked
    if asked and not workers:
        raise ValueError("entries with thread settings need worker processes (workers=True)")
    keras.utils.set_random_seed(seed)
    initial = two_layer_lstm().get_weights()
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
    here = _current_threads()
    inherited = (here["intra_op"], here["inter_op"]) if here else None
    settings = [threads if threads is not None else inherited for _, _, threads in unpacked]

    speeds = [[] for _ in entries]
    call_speeds = [[] for _ in entries]
    curves = [[] for _ in entries]
    loads = []
    with contextlib.ExitStack() as stack:
        if workers:
            groups: dict[Threads | None, list[int]] = {}
            for j, setting in enumerate(settings):
                groups.setdefault(setting, []).append(j)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="train_speed_")))
            log(
                f"{len(groups)} worker processes: "
                + "; ".join(
                    f"threads {_as_threads(s) or 'TF defaults'}: "
                    + ", ".join(unpacked[j][0].name for j in indices)
                    for s, indices in groups.items()
                )
            )
            backend = _start_workers(
                groups, unpacked, arrays, initial, chunk, seed, folder, timeout, stack
            )
            ask = {j: backend[j].request for j in range(len(entries))}
        else:
            trainer = _Trainer(
                {j: (config, builder) for j, (config, builder, _) in enumerate(unpacked)},
                arrays,
                initial,
                chunk,
            )
            ask = dict.fromkeys(range(len(entries)), trainer.handle)
        for r in range(rounds):
            for k in range(len(entries)):
                j = (k + r) % len(entries)  # rotate the order every round
                answer = ask[j]({"op": "train", "index": j, "round": r})
                seconds = answer["seconds"]
                speeds[j].append(chunk / seconds)
                call_speeds[j].append(chunk / answer["call_seconds"])
                val = answer["val_accuracy"]
                curves[j].append(
                    {
                        "images": chunk * (r + 1),
                        "train_seconds": answer["train_seconds"],
                        "val_accuracy": val,
                    }
                )
                log(
                    f"round {r + 1}/{rounds} {unpacked[j][0].name:24s} "
                    f"{chunk / seconds:8.1f} images/s val {val:.4f}"
                )
            loads.append(os.getloadavg()[0])
        finals = [ask[j]({"op": "final", "index": j}) for j in range(len(entries))]
    timed = slice(1, None) if rounds > 1 else slice(None)
    rows = []
    for j, (config, builder, threads) in enumerate(unpacked):
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
                "threads": finals[j]["threads"],
                "worker_process": bool(workers),
                "images_per_s": statistics.median(speeds[j][timed]),
                "images_per_s_stretches": speeds[j],
                "images_per_s_whole_fit_calls": call_speeds[j],
                "ratio_to_keras_example": statistics.median(per_round),
                "images_seen": need,
                "val_accuracy": finals[j]["val_accuracy"],
                "test_accuracy": finals[j]["test_accuracy"],
                "curve": curves[j],
                "default": same_settings(config, DEFAULT) and threads is None,
            }
        )
    rows[0]["load_average_per_round"] = loads
    return rows


def _threads_label(threads: dict | None) -> str:
    """``TF`` for TensorFlow's defaults, else ``intra/inter`` (0: TF's choice)."""
    return "TF" if threads is None else f"{threads['intra_op']}/{threads['inter_op']}"


def table(rows: list[dict]) -> str:
    """The result as a plain-text table (threads: intra-op/inter-op, TF: TF's defaults)."""
    lines = [
        f"{'configuration':24s} {'batch':>5s} {'threads':>7s} {'images/s':>9s} {'ratio':>6s} "
        f"{'val acc':>8s} {'test acc':>8s}"
    ]
    for row in rows:
        mark = "  <- DEFAULT" if row["default"] else ""
        lines.append(
            f"{row['name']:24s} {row['batch_size']:5d} "
            f"{_threads_label(row.get('threads')):>7s} {row['images_per_s']:9.1f} "
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
    parser.add_argument(
        "--only",
        help="comma-separated configuration names (from the full list) to run, "
        "with the Keras example as the reference",
    )
    parser.add_argument("--val-images", type=int, help="validation images per curve point")
    parser.add_argument(
        "--threads",
        type=int,
        help="TensorFlow intra-op threads of this process (default: TF's); configurations "
        "without a thread setting of their own train with it",
    )
    parser.add_argument(
        "--workers",
        action="store_true",
        help="worker processes even when no configuration sets threads",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds to wait for a worker's answer before stopping (default 3600)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    if args.only:
        every = configurations(quick=False)
        names = ["keras_example", *(n.strip() for n in args.only.split(",") if n.strip())]
        unknown = sorted(set(names) - {unpack(e)[0].name for e in every})
        if unknown:
            valid = ", ".join(unpack(e)[0].name for e in every)
            parser.error(f"unknown configuration(s) {', '.join(unknown)}; valid: {valid}")
        entries = [e for e in every if unpack(e)[0].name in names]
    else:
        entries = configurations(quick=args.quick)
    chunk = args.chunk or (512 if args.quick else 2048)
    rounds = args.rounds or (3 if args.quick else 6)
    splits = data.load_splits()
    load_before = os.getloadavg()
    started = time.time()
    # Provenance is read before training, so that it describes the code that ran.
    info = provenance(["python", "benchmarks/train_speed.py", *(argv or sys.argv[1:])])
    val_images = args.val_images or (500 if args.quick else 1000)
    rows = run(
        entries,
        splits,
        chunk=chunk,
        rounds=rounds,
        val_images=val_images,
        workers=True if args.workers else None,
        timeout=args.timeout,
    )
    result = {
        "provenance": {
            **info,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "wall_seconds": time.time() - started,
            "chunk_images": chunk,
            "rounds": rounds,
            "val_images_per_curve_point": val_images,
            # This process's threads; each configuration's own are in its row.
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "worker_processes": any(row["worker_process"] for row in rows),
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
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker_main(sys.argv[2:]))
    main()
