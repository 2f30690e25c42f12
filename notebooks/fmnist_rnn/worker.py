"""One worker of a multi-worker job: what it trains (:class:`Job`) and how (:func:`run_worker`).

:mod:`fmnist_rnn.distributed` writes a :class:`Job` as JSON and starts one
process per worker with ``python -m fmnist_rnn.distributed --as-worker --job
job.json`` and the worker's own ``TF_CONFIG``. The worker

1. validates ``TF_CONFIG`` (a clear error, exit code 2, before TensorFlow
   tries to reach anyone);
2. creates ``tf.distribute.MultiWorkerMirroredStrategy`` with a timeout on
   collective operations, so that a lost peer ends the step with an error
   instead of a hang;
3. trains with :func:`fmnist_rnn.training.fit` under that strategy (global
   batch = per-replica batch x replicas, learning rate scaled), with
   ``keras.callbacks.BackupAndRestore`` when the job has a backup folder;
4. writes ``worker-<i>.json`` and ``worker-<i>.weights.npz``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

__all__ = ["Job", "run_worker"]


@dataclass
class Job:
    """What every worker trains (written as JSON next to the logs).

    ``collective_timeout`` bounds every collective operation (all-reduce,
    broadcast) in seconds: a lost peer then ends the step with an error instead
    of a hang. Workers on several machines must start within that time of each
    other, since the first collective waits for all of them.
    """

    out_dir: str
    builder: str = "two_layer_lstm"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_per_replica: int = 32
    epochs: int = 1
    train_size: int | None = None  # None: what the run profile allows
    val_size: int | None = None
    lr_scaling: str = "sqrt"  # "none", "linear" or "sqrt" in the global/per-replica ratio
    seed: int = 0
    backup_dir: str | None = None
    kill_worker: int | None = None  # fault injection: SIGKILL this worker ...
    kill_at_step: int | None = None  # ... just before this global step (0-based)
    threads: int = 1
    collective_timeout: float = 120.0

    def config(self, replicas: int):
        """The :class:`~fmnist_rnn.training.TrainConfig`: global batch, scaled learning rate."""
        from .training import DEFAULT

        factor = {"none": 1.0, "linear": replicas, "sqrt": replicas**0.5}[self.lr_scaling]
        return DEFAULT.replace(
            batch_size=self.batch_per_replica * replicas,
            learning_rate=DEFAULT.learning_rate * factor,
        )

    def splits(self):
        """The run profile's splits, cut to ``train_size`` / ``val_size`` images."""
        from .data import Splits, load_splits

        s = load_splits()
        n, v = self.train_size, self.val_size
        return Splits(s.x_train[:n], s.y_train[:n], s.x_val[:v], s.y_val[:v], s.x_test, s.y_test)


def run_worker(job: Job) -> dict[str, Any]:
    """The worker: join the cluster in ``TF_CONFIG``, train, write results."""
    from .distributed import parse_tf_config

    addresses, index = parse_tf_config(os.environ.get("TF_CONFIG"))
    import numpy as np
    import tensorflow as tf

    from . import training
    from .models import get_builder
    from .seeding import set_seed

    keras.config.disable_traceback_filtering()
    if not training.set_threads(job.threads, job.threads):
        raise RuntimeError(f"could not give TensorFlow {job.threads} thread(s)")
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=job.collective_timeout
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    replicas = strategy.num_replicas_in_sync
    config, splits = job.config(replicas), job.splits()
    set_seed(job.seed)
    callbacks: list[keras.callbacks.Callback] = []
    if job.backup_dir:  # Keras 3's callback is not multi-worker aware: one folder each
        backup = os.path.join(job.backup_dir, f"worker-{index}")
        callbacks.append(keras.callbacks.BackupAndRestore(backup))
    meter = _Meter(config.batch_size, index == job.kill_worker, job.kill_at_step)
    callbacks.append(meter)
    history = training.fit(
        get_builder(job.builder),
        splits,
        job.epochs,
        config=config,
        callbacks=callbacks,
        verbose=0,
        model_kwargs=job.model_kwargs,
        strategy=strategy,
        seed=job.seed,
    )
    out = Path(job.out_dir)
    weights = history.model.get_weights()
    np.savez(out / f"worker-{index}.weights.npz", **{f"w{i}": w for i, w in enumerate(weights)})
    result = {
        "index": index,
        "workers": len(addresses),
        "replicas": replicas,
        "global_batch": config.batch_size,
        "learning_rate": config.learning_rate,
        "epochs_run": meter.epochs,
        "steps_run": meter.steps,
        "images_per_second": meter.images_per_second(),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    (out / f"worker-{index}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result), flush=True)
    return result


class _Meter(keras.callbacks.Callback):
    """Counts epochs and steps, times the train steps, injects a kill.

    Throughput counts only the time inside train steps (data, forward,
    backward, all-reduce, update), not validation or backups at epoch ends,
    and not the first step (it traces and compiles the step function).
    """

    def __init__(self, global_batch: int, kill: bool, kill_at_step: int | None) -> None:
        super().__init__()
        self.global_batch, self.kill, self.kill_at_step = global_batch, kill, kill_at_step
        self.epochs: list[int] = []
        self.steps, self.timed, self.seconds, self.begin, self.epoch = 0, 0, 0.0, 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epochs.append(epoch)

    def on_train_batch_begin(self, batch, logs=None):
        steps_per_epoch = self.params.get("steps") or 0
        if self.kill and self.epoch * steps_per_epoch + batch == self.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, like a lost machine
        self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps > 1:
            self.timed += 1
            self.seconds += time.perf_counter() - self.begin

    def images_per_second(self) -> float | None:
        """Training images per second over all workers (timed steps only)."""
        return self.timed * self.global_batch / self.seconds if self.seconds > 0 else None
