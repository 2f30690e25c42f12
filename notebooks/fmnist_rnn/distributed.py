"""Multi-worker training with ``tf.distribute.MultiWorkerMirroredStrategy``: launcher and worker.

One process per worker; every worker runs the same program and learns its role
from the environment variable ``TF_CONFIG``::

    {"cluster": {"worker": ["127.0.0.1:41001", "127.0.0.1:41002"]},
     "task": {"type": "worker", "index": 0}}

Worker 0 is the *chief*. The launcher starts N workers on this machine, on free
loopback ports (nothing leaves 127.0.0.1), waits for them with a timeout, and
stops all of them as soon as one fails::

    python -m fmnist_rnn.distributed --workers 2 --epochs 2        # from notebooks/

On several machines, run one worker per machine with the same address list and
its own index (the launcher then starts only that worker)::

    python -m fmnist_rnn.distributed --addresses hostA:41001,hostB:41001 --index 0

Every worker writes ``worker-<i>.log`` (TensorFlow's own log lines),
``worker-<i>.json`` (history, epochs run, throughput) and
``worker-<i>.weights.npz`` (final weights) into the output folder. With
``--backup-dir``, ``keras.callbacks.BackupAndRestore`` backs the training state
up after every epoch and a restarted job resumes from it. What a worker does
is in :mod:`fmnist_rnn.worker`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .worker import Job, run_worker

__all__ = [
    "DistributedError",
    "Job",
    "Run",
    "TFConfigError",
    "WorkerFailed",
    "check_ports_free",
    "free_ports",
    "launch",
    "main",
    "parse_tf_config",
    "tf_config",
]

LOOPBACK = "127.0.0.1"
LOCAL_HOSTS = {LOOPBACK, "localhost"}
PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])
WORKER_COMMAND = (sys.executable, "-m", "fmnist_rnn.distributed", "--as-worker")


class DistributedError(RuntimeError):
    """A multi-worker job could not start or did not finish."""


class TFConfigError(DistributedError, ValueError):
    """``TF_CONFIG`` is malformed or inconsistent."""


class WorkerFailed(DistributedError):
    """Workers exited with errors; ``failures`` maps worker index -> exit code.

    Workers killed by a signal (the likely cause) are listed first, then those
    that exited with an error (often the survivors, aborted by TensorFlow once
    the peer stopped answering); the message ends with the first one's log tail.
    """

    def __init__(self, failures: dict[int, int], out: Path) -> None:
        self.failures = dict(sorted(failures.items(), key=lambda item: (item[1] >= 0, item[0])))
        first = next(iter(self.failures))
        parts = [
            f"worker {i} killed by {signal.Signals(-code).name} (exit code {code})"
            if code < 0
            else f"worker {i} exited with code {code}"
            for i, code in self.failures.items()
        ]
        log = out / f"worker-{first}.log"
        super().__init__(
            "; ".join(parts) + f"; all workers stopped. Last lines of {log}:\n" + _tail(log)
        )


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound to port 0, then released)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _split_address(address: Any) -> tuple[str, int]:
    if not isinstance(address, str) or address.count(":") != 1:
        raise TFConfigError(f"worker address {address!r} is not of the form 'host:port'")
    host, port = address.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TFConfigError(f"worker address {address!r}: bad host or port (1..65535)")
    return host, int(port)


def tf_config(addresses: list[str], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``addresses`` (validated)."""
    config = {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}
    parse_tf_config(json.dumps(config))
    return config


def parse_tf_config(text: str | None) -> tuple[list[str], int]:
    """Validate a ``TF_CONFIG`` string; return ``(worker addresses, own index)``.

    Raises:
        TFConfigError: not JSON, no worker list, duplicate or malformed
            addresses, a task that is not a worker, an index out of range.
    """
    if not text:
        raise TFConfigError("TF_CONFIG is not set; the launcher sets it for every worker")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise TFConfigError(f"TF_CONFIG is not valid JSON ({error}): {text[:80]!r}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise TFConfigError('TF_CONFIG needs a "cluster" object: {"cluster": {"worker": [...]}}')
    workers = config["cluster"].get("worker")
    extra = set(config["cluster"]) - {"worker"}
    if extra:
        raise TFConfigError(f"TF_CONFIG cluster has {sorted(extra)}; only 'worker' is supported")
    if not isinstance(workers, list) or not workers:
        raise TFConfigError('TF_CONFIG "cluster"/"worker" must be a non-empty list of host:port')
    for address in workers:
        _split_address(address)
    if len(set(workers)) != len(workers):
        raise TFConfigError(f"TF_CONFIG lists a worker address twice: {workers}")
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") != "worker":
        raise TFConfigError('TF_CONFIG needs "task": {"type": "worker", "index": i}')
    index = task.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(workers):
        raise TFConfigError(f"TF_CONFIG task index {index!r} is not in 0..{len(workers) - 1}")
    return workers, index


def check_ports_free(addresses: list[str]) -> None:
    """Raise :class:`DistributedError` if a local address's port is already taken."""
    for address in addresses:
        host, port = _split_address(address)
        if host not in LOCAL_HOSTS:
            continue  # another machine: its own worker checks
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError as error:
                raise DistributedError(
                    f"port {port} on {host} is already in use ({error.strerror}); "
                    "choose another port or let the launcher pick free ones"
                ) from None


@dataclass
class Run:
    """The outcome of :func:`launch`: one result per worker, read from its JSON."""

    out_dir: Path
    results: list[dict[str, Any]]
    seconds: float

    @classmethod
    def load(cls, out_dir: str | Path, seconds: float = float("nan")) -> Run:
        """Read the results the workers wrote into ``out_dir`` (e.g. after the CLI)."""
        out = Path(out_dir)
        paths = sorted(out.glob("worker-*.json"), key=lambda p: int(p.stem.split("-")[1]))
        return cls(out, [json.loads(p.read_text()) for p in paths], seconds)

    def weights(self, index: int = 0) -> list:
        """Final weights of worker ``index`` (NumPy arrays, in ``get_weights`` order)."""
        with np.load(self.out_dir / f"worker-{index}.weights.npz") as data:
            return [data[f"w{i}"] for i in range(len(data.files))]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # each worker leads its own group
    for process in processes:
        process.wait()


def _tail(path: Path, lines: int = 12) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def launch(
    job: Job,
    workers: int = 2,
    addresses: list[str] | None = None,
    only: int | None = None,
    timeout: float = 300.0,
) -> Run:
    """Start ``workers`` local worker processes (or only worker ``only``), wait, collect.

    Raises:
        ValueError: ``workers < 1``.
        DistributedError: bad addresses, a port in use, a worker failed
            (:class:`WorkerFailed`, the others are stopped) or ``timeout``
            seconds passed (all are stopped).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    addresses = addresses or [f"{LOOPBACK}:{port}" for port in free_ports(workers)]
    if len(addresses) != workers:
        raise DistributedError(f"{len(addresses)} addresses given for {workers} workers")
    indices = range(workers) if only is None else [only]
    tf_config(addresses, indices[0])  # validates the addresses
    check_ports_free([addresses[i] for i in indices])
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("worker-*"):  # results of an earlier run in the same folder
        stale.unlink()
    (out / "job.json").write_text(json.dumps(dataclasses.asdict(job), indent=1))
    path = os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
    processes, start = [], time.monotonic()
    try:
        for i in indices:
            env = dict(os.environ, TF_CONFIG=json.dumps(tf_config(addresses, i)), PYTHONPATH=path)
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            with open(out / f"worker-{i}.log", "wb") as log:
                process = subprocess.Popen(
                    [*WORKER_COMMAND, "--job", str(out / "job.json")],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            processes.append(process)
        while any(p.poll() is None for p in processes):
            if any(p.returncode not in (None, 0) for p in processes):
                break  # one failed: stop the others rather than wait for their timeouts
            if time.monotonic() - start > timeout:
                raise DistributedError(f"job not finished after {timeout:.0f} s; stopped")
            time.sleep(0.1)
        time.sleep(0.5)  # let a failure's immediate consequences exit too
        codes = {i: p.poll() for i, p in zip(indices, processes, strict=True)}
        failures = {i: code for i, code in codes.items() if code not in (None, 0)}
        if failures:
            raise WorkerFailed(failures, out)
    finally:
        _stop(processes)
    return Run.load(out, time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    """Command line: launch N workers (or, with ``--as-worker``, be one)."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_rnn.distributed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--workers", type=int, help="worker processes (default 2)")
    parser.add_argument("--addresses", help="host:port,host:port (default: free loopback ports)")
    parser.add_argument("--index", type=int, help="start only this worker (several machines)")
    parser.add_argument("--builder", default="two_layer_lstm")
    parser.add_argument("--model-kwargs", default="{}", help="JSON, e.g. '{\"units\": 32}'")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-per-replica", type=int, default=32)
    parser.add_argument("--train-size", type=int, help="default: what the run profile allows")
    parser.add_argument("--val-size", type=int, help="default: what the run profile allows")
    parser.add_argument("--lr-scaling", choices=("none", "linear", "sqrt"), default="sqrt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backup-dir")
    parser.add_argument("--out", default="runs/distributed")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--as-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.as_worker:  # other errors: a traceback in the worker's log
            run_worker(Job(**json.loads(Path(args.job).read_text())))
            return 0
        addresses = args.addresses.split(",") if args.addresses else None
        workers = args.workers if args.workers is not None else len(addresses) if addresses else 2
        job = Job(
            out_dir=args.out,
            builder=args.builder,
            model_kwargs=json.loads(args.model_kwargs),
            epochs=args.epochs,
            batch_per_replica=args.batch_per_replica,
            train_size=args.train_size,
            val_size=args.val_size,
            lr_scaling=args.lr_scaling,
            seed=args.seed,
            backup_dir=args.backup_dir,
        )
        run = launch(job, workers, addresses, only=args.index, timeout=args.timeout)
    except (DistributedError, ValueError) as error:
        if args.as_worker and not isinstance(error, TFConfigError):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in run.results:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this ``__main__`` copy: its exception
    # classes are the ones the worker module raises.
    from fmnist_rnn.distributed import main as _main

    sys.exit(_main())
