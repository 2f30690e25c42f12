"""One worker of a multi-worker job: a plain custom training loop under a tf.distribute strategy.

:mod:`fmnist_rnn.performance.multiworker` writes a :class:`Job` as JSON and starts
one process per worker, ``python -m fmnist_rnn.performance.worker --job job.json``,
each with its own ``TF_CONFIG``. The worker

1. reads its place in the cluster with
   ``tf.distribute.cluster_resolver.TFConfigClusterResolver`` (a malformed
   ``TF_CONFIG`` ends it with a clear message and exit code 2);
2. creates ``tf.distribute.MultiWorkerMirroredStrategy`` with a timeout on
   collective operations, so that a lost peer ends the step with an error, not a hang;
3. trains with :func:`train`: ``strategy.experimental_distribute_dataset`` splits
   every global batch, ``strategy.run`` runs the train step on each replica, the
   optimizer all-reduces the gradients, ``strategy.reduce`` sums the loss; after
   every epoch a ``tf.train.CheckpointManager`` saves weights, optimizer state
   and the epoch, and a restarted job resumes from there;
4. writes ``worker-<i>.json`` (history, epochs, steps, throughput) and
   ``worker-<i>.weights.npz``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ClusterConfigError", "Job", "epoch_dataset", "main", "read_cluster", "train"]


class ClusterConfigError(ValueError):
    """``TF_CONFIG`` is missing, malformed, or does not describe a worker of a worker cluster."""


@dataclass
class Job:
    """What every worker trains (written as JSON next to the logs).

    ``batch_per_replica`` times the number of replicas is the global batch; the
    learning rate is scaled with the replicas (``lr_scaling``: ``"none"``,
    ``"linear"`` or ``"sqrt"``). ``builder`` is a name in
    ``fmnist_rnn.models.BUILDERS`` or ``"fast_two_layer_lstm"``. ``threads`` are
    each worker's TensorFlow intra- and inter-op threads. ``kill_worker`` /
    ``kill_at_step`` make that worker kill itself (``SIGKILL``) before that
    global step, for the fault-tolerance demonstration.
    """

    out_dir: str
    builder: str = "two_layer_lstm"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 1
    batch_per_replica: int = 32
    train_size: int | None = None
    val_size: int | None = None
    learning_rate: float = 1e-3
    lr_scaling: str = "sqrt"
    seed: int = 0
    backup_dir: str | None = None
    threads: int = 1
    collective_timeout: float = 120.0
    kill_worker: int | None = None
    kill_at_step: int | None = None

    def scaled_learning_rate(self, replicas: int) -> float:
        """The learning rate for ``replicas`` replicas."""
        factor = {"none": 1.0, "linear": replicas, "sqrt": replicas**0.5}[self.lr_scaling]
        return self.learning_rate * factor


def read_cluster():
    """``(resolver, own index, number of workers)`` from ``TF_CONFIG``.

    Raises:
        ClusterConfigError: not set, not JSON, no worker list, jobs other than
            ``worker``, a task that is not a worker, an index out of range.
    """
    import tensorflow as tf

    if not os.environ.get("TF_CONFIG"):
        raise ClusterConfigError("TF_CONFIG is not set; the launcher sets it for every worker")
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        spec = resolver.cluster_spec()
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        raise ClusterConfigError(f"TF_CONFIG is not valid JSON ({error})") from None
    if spec.jobs != ["worker"]:
        raise ClusterConfigError(f"TF_CONFIG cluster has jobs {spec.jobs}; expected only 'worker'")
    workers = spec.num_tasks("worker")
    if resolver.task_type != "worker" or not 0 <= (resolver.task_id or 0) < workers:
        raise ClusterConfigError(
            f"TF_CONFIG task is {resolver.task_type!r} {resolver.task_id!r}; "
            f"expected a worker index in 0..{workers - 1}"
        )
    return resolver, resolver.task_id or 0, workers


def epoch_dataset(x, y, global_batch: int, seed: int, epoch: int):
    """The global batches of epoch ``epoch``: a stateless shuffle seeded by ``(seed, epoch)``.

    The order of an epoch does not depend on how many epochs this process has
    run, so a job resumed at epoch ``e`` sees the batches an uninterrupted one did.
    Incomplete last batches are dropped (every replica gets an equal share).
    """
    import tensorflow as tf

    from ..training import epoch_order

    order = epoch_order(int(y.shape[0]), seed, epoch)
    batches = tf.data.Dataset.from_tensor_slices(order).batch(global_batch, drop_remainder=True)
    dataset = batches.map(lambda index: (tf.gather(x, index), tf.gather(y, index)))
    options = tf.data.Options()  # every worker keeps its part of each global batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _model(job: Job):
    if job.builder == "fast_two_layer_lstm":
        from .fast_lstm import fast_two_layer_lstm

        return fast_two_layer_lstm(**job.model_kwargs)
    from ..models import get_builder

    return get_builder(job.builder)(**job.model_kwargs)


def train(job: Job, strategy, index: int = 0) -> dict[str, Any]:
    """Train ``job`` under ``strategy`` with a custom loop; write and return the results."""
    import keras
    import numpy as np
    import tensorflow as tf

    from ..data import load_splits

    s = load_splits()
    x = tf.constant((s.x_train[: job.train_size].astype(np.float32) / 255.0)[..., None])
    y = tf.constant(s.y_train[: job.train_size].astype(np.int64))
    x_val = (s.x_val[: job.val_size].astype(np.float32) / 255.0)[..., None]
    y_val = s.y_val[: job.val_size]
    replicas = strategy.num_replicas_in_sync
    global_batch = job.batch_per_replica * replicas
    learning_rate = job.scaled_learning_rate(replicas)
    keras.utils.set_random_seed(job.seed)
    with strategy.scope():  # variables created here are mirrored on every replica
        model = _model(job)
        optimizer = keras.optimizers.RMSprop(learning_rate)
        optimizer.build(model.trainable_variables)
        epoch_done = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_done)
    backup = Path(job.backup_dir) / f"worker-{index}" if job.backup_dir else None
    manager = backup and tf.train.CheckpointManager(checkpoint, str(backup), max_to_keep=1)
    if manager and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_consumed()

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_image = keras.losses.sparse_categorical_crossentropy(labels, model(images))
            loss = tf.nn.compute_average_loss(per_image, global_batch_size=global_batch)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(
            zip(gradients, model.trainable_variables, strict=True)
        )  # all-reduced
        return loss

    @tf.function
    def train_step(batch):
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    epochs_run, steps, timed, seconds = [], 0, 0, 0.0
    steps_per_epoch = int(y.shape[0]) // global_batch
    for epoch in range(int(epoch_done.numpy()), job.epochs):
        epochs_run.append(epoch)
        losses = []
        dataset = epoch_dataset(x, y, global_batch, job.seed, epoch)
        for step, batch in enumerate(strategy.experimental_distribute_dataset(dataset)):
            if index == job.kill_worker and epoch * steps_per_epoch + step == job.kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, like a lost machine
            begin = time.perf_counter()
            losses.append(float(train_step(batch)))
            steps += 1
            if steps > 1:  # the first step traces the function
                timed, seconds = timed + 1, seconds + time.perf_counter() - begin
        predicted = [
            np.asarray(model(x_val[i : i + 500])).argmax(1) for i in range(0, len(y_val), 500)
        ]
        history["loss"].append(float(np.mean(losses)))
        history["val_accuracy"].append(float(np.mean(np.concatenate(predicted) == y_val)))
        epoch_done.assign(epoch + 1)
        if manager:
            manager.save()
    if backup:  # finished: the backup has done its job
        shutil.rmtree(backup, ignore_errors=True)
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = model.get_weights()
    np.savez(out / f"worker-{index}.weights.npz", **{f"w{i}": w for i, w in enumerate(weights)})
    result = {
        "index": index,
        "replicas": replicas,
        "global_batch": global_batch,
        "learning_rate": learning_rate,
        "epochs_run": epochs_run,
        "steps_run": steps,
        "images_per_second": timed * global_batch / seconds if seconds > 0 else None,
        "history": history,
    }
    (out / f"worker-{index}.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m fmnist_rnn.performance.worker --job job.json`` (``TF_CONFIG`` set)."""
    parser = argparse.ArgumentParser(prog="python -m fmnist_rnn.performance.worker")
    parser.add_argument("--job", required=True, help="the job's JSON file")
    job = Job(**json.loads(Path(parser.parse_args(argv).job).read_text()))
    try:
        resolver, index, _ = read_cluster()
    except ClusterConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(job.threads)
    tf.config.threading.set_inter_op_parallelism_threads(job.threads)
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=job.collective_timeout
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=resolver, communication_options=options
    )
    print(json.dumps(train(job, strategy, index)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
