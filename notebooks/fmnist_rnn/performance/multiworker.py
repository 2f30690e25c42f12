"""Launch a multi-worker job: one worker process per ``TF_CONFIG``, watched until it ends.

Every worker runs the same program (:mod:`fmnist_rnn.performance.worker`) and
learns its role from the environment variable ``TF_CONFIG``::

    {"cluster": {"worker": ["127.0.0.1:41001", "127.0.0.1:41002"]},
     "task": {"type": "worker", "index": 0}}

Worker 0 is the *chief*. :func:`launch` starts N workers on this machine on free
loopback ports (nothing leaves 127.0.0.1), waits with a timeout, and stops all of
them as soon as one fails::

    python -m fmnist_rnn.performance.multiworker --workers 2 --epochs 2

On several machines, run one launcher per machine with the same address list
and its own index (it then starts only that worker)::

    python -m fmnist_rnn.performance.multiworker --addresses hostA:41001,hostB:41001 --index 0

Every worker writes ``worker-<i>.log`` (TensorFlow's own log lines),
``worker-<i>.json`` and ``worker-<i>.weights.npz`` into the output folder.
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

from .worker import Job

__all__ = ["Job", "MultiWorkerError", "Run", "WorkerFailed", "free_ports", "launch", "tf_config"]

LOOPBACK = "127.0.0.1"
WORKER_COMMAND = (sys.executable, "-m", "fmnist_rnn.performance.worker")
#: The folder that holds ``fmnist_rnn``: workers import this same package.
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class MultiWorkerError(RuntimeError):
    """A multi-worker job could not start or did not finish."""


class WorkerFailed(MultiWorkerError):
    """Workers exited with errors; ``failures`` maps worker index -> exit code.

    Workers killed by a signal (the likely cause) come first; the message ends
    with the first one's log tail.
    """

    def __init__(self, failures: dict[int, int], out: Path) -> None:
        self.failures = dict(sorted(failures.items(), key=lambda item: (item[1] >= 0, item[0])))
        parts = [
            f"worker {i} killed by {signal.Signals(-code).name} (exit code {code})"
            if code < 0
            else f"worker {i} exited with code {code}"
            for i, code in self.failures.items()
        ]
        log = out / f"worker-{next(iter(self.failures))}.log"
        lines = log.read_text(errors="replace").splitlines()[-12:] if log.exists() else []
        super().__init__(
            "; ".join(parts) + f"; all workers stopped. End of {log}:\n" + "\n".join(lines)
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


def tf_config(addresses: list[str], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``addresses``."""
    return {"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}}


def _check_port_free(address: str) -> None:
    host, _, port = address.rpartition(":")
    if host not in (LOOPBACK, "localhost"):
        return  # another machine: its own launcher checks
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, int(port)))
        except OSError as error:
            raise MultiWorkerError(
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
        """Read the results the workers wrote into ``out_dir``."""
        paths = sorted(Path(out_dir).glob("worker-*.json"), key=lambda p: int(p.stem[7:]))
        return cls(Path(out_dir), [json.loads(p.read_text()) for p in paths], seconds)

    def weights(self, index: int = 0) -> list:
        """Final weights of worker ``index`` (NumPy arrays, in ``get_weights`` order)."""
        import numpy as np

        with np.load(self.out_dir / f"worker-{index}.weights.npz") as data:
            return [data[f"w{i}"] for i in range(len(data.files))]


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
        MultiWorkerError: a port in use, a worker failed (:class:`WorkerFailed`,
            the others are stopped) or ``timeout`` seconds passed (all stopped).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    addresses = addresses or [f"{LOOPBACK}:{port}" for port in free_ports(workers)]
    if len(addresses) != workers:
        raise MultiWorkerError(f"{len(addresses)} addresses given for {workers} workers")
    indices = range(workers) if only is None else [only]
    for i in indices:
        _check_port_free(addresses[i])
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
                processes.append(
                    subprocess.Popen(
                        [*WORKER_COMMAND, "--job", str(out / "job.json")],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        while any(p.poll() is None for p in processes):
            if any(p.returncode not in (None, 0) for p in processes):
                break  # one failed: stop the others rather than wait for their timeouts
            if time.monotonic() - start > timeout:
                raise MultiWorkerError(f"job not finished after {timeout:.0f} s; stopped")
            time.sleep(0.1)
        time.sleep(0.5)  # let a failure's immediate consequences exit too
        codes = {i: p.poll() for i, p in zip(indices, processes, strict=True)}
        failures = {i: code for i, code in codes.items() if code not in (None, 0)}
        if failures:
            raise WorkerFailed(failures, out)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # each worker leads its own group
            process.wait()
    return Run.load(out, time.monotonic() - start)


def main(argv: list[str] | None = None) -> int:
    """Command line: launch N workers and print one line of results per worker."""
    parser = argparse.ArgumentParser(
        prog="python -m fmnist_rnn.performance.multiworker",
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
    parser.add_argument("--train-size", type=int, help="default: the whole training split")
    parser.add_argument("--val-size", type=int, help="default: the whole validation split")
    parser.add_argument("--lr-scaling", choices=("none", "linear", "sqrt"), default="sqrt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backup-dir")
    parser.add_argument("--out", default="runs/multiworker")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
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
    try:
        run = launch(job, workers, addresses, only=args.index, timeout=args.timeout)
    except (MultiWorkerError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in run.results:
        print(json.dumps({k: v for k, v in result.items() if k != "history"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
