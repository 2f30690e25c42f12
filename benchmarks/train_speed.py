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
steps in the smoke profile). This is a benchmark, not a test. It keeps the
round-robin (:func:`run`), the table, the provenance and the command line; the
entries and configurations (and the ``BlockLSTM`` layer) are in ``speed_configs.py``,
the stretch trainer and the worker processes in ``speed_workers.py``, and their
names are available here too (``train_speed.configurations``, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
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

# The configurations and the worker processes live in sibling modules (this directory
# is on sys.path when run as a script; the notebook and the tests add it). Their names
# stay available here: train_speed.BlockLSTM, train_speed.configurations, ...
from speed_configs import (  # noqa: E402, F401
    BlockLSTM,
    Entry,
    Threads,
    block_lstm_model,
    configurations,
    same_settings,
    unpack,
)
from speed_workers import (  # noqa: E402, F401
    WorkerError,
    _as_threads,
    _builder_reference,
    _current_threads,
    _resolve_builder,
    _start_workers,
    _Timer,
    _Trainer,
    _Worker,
    worker_main,
)

from fmnist_rnn import data  # noqa: E402
from fmnist_rnn.models import two_layer_lstm  # noqa: E402
from fmnist_rnn.training import DEFAULT  # noqa: E402


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
                "default": same_settings(config, DEFAULT) and threads == DEFAULT.threads,
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
