"""The ``tf.data`` input pipeline: in-memory arrays -> shuffled global batches.

:func:`fmnist_rnn.training.fit` feeds Keras through this module, with or without a
``tf.distribute.Strategy``:

* the uint8 arrays of :class:`fmnist_rnn.data.Splits` are scaled once and held
  as constants;
* every epoch reads the training images in its own order, a *stateless*
  shuffle seeded by ``(seed, epoch)``: the order of epoch ``e`` does not depend
  on how many epochs this process has already run, so a run resumed at epoch
  ``e`` by ``keras.callbacks.BackupAndRestore`` sees exactly the batches an
  uninterrupted run would have seen;
* batches hold the *global* batch size (all replicas of all workers together);
  ``tf.distribute`` splits each global batch into per-replica batches;
* ``AutoShardPolicy.DATA``: every worker builds the same pipeline and keeps its
  own slice of every global batch (the arrays are in memory, there are no
  files to shard);
* ``prefetch`` overlaps the next batch with the current step.

Usage::

    train = pipeline.train_dataset(x, y, global_batch_size=64, epochs=3, seed=0)
    model.fit(train, epochs=3, steps_per_epoch=pipeline.steps_per_epoch(len(y), 64))
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from .sequences import as_image_tensor, scale

__all__ = [
    "eval_dataset",
    "resume_epoch",
    "steps_per_epoch",
    "train_dataset",
    "with_data_sharding",
]


def with_data_sharding(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with ``AutoShardPolicy.DATA`` (shard by element, not by file)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _tensors(images: np.ndarray, labels: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("cannot build a pipeline over an empty split")
    return tf.constant(as_image_tensor(scale(images))), tf.constant(np.asarray(labels))


def steps_per_epoch(n: int, global_batch_size: int, drop_remainder: bool = False) -> int:
    """Number of global batches in one pass over ``n`` images."""
    if global_batch_size < 1:
        raise ValueError(f"global batch size must be at least 1, got {global_batch_size}")
    steps = n // global_batch_size if drop_remainder else math.ceil(n / global_batch_size)
    if steps < 1:
        raise ValueError(
            f"{n} images do not fill one global batch of {global_batch_size} "
            "(drop_remainder=True); use a smaller batch or more data"
        )
    return steps


def train_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    global_batch_size: int,
    epochs: int,
    seed: int = 0,
    first_epoch: int = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """The training batches of epochs ``first_epoch .. epochs - 1``, one after another.

    Args:
        images: uint8 images (N, 28, 28), scaled here.
        labels: the N labels.
        global_batch_size: images per optimizer step, summed over all replicas.
        epochs: the last epoch (exclusive), as passed to ``model.fit``.
        seed: shuffle seed; the order of epoch ``e`` is a function of
            ``(seed, e)`` only.
        first_epoch: the epoch to start at (a resumed run: the epoch
            ``BackupAndRestore`` restores; see :func:`resume_epoch`).
        drop_remainder: drop the last, smaller batch of every epoch (under a
            strategy with several replicas every replica then gets an equal
            share of every step).

    Returns:
        A dataset of ``(images, labels)`` batches; feed it to ``model.fit`` with
        ``steps_per_epoch=steps_per_epoch(N, global_batch_size, drop_remainder)``.
    """
    x, y = _tensors(images, labels)
    n = int(y.shape[0])
    steps_per_epoch(n, global_batch_size, drop_remainder)  # validates

    def one_epoch(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(
            global_batch_size, drop_remainder=drop_remainder
        )
        return batches.map(lambda index: (tf.gather(x, index), tf.gather(y, index)))

    epochs_left = tf.data.Dataset.range(first_epoch, max(first_epoch, epochs))
    dataset = epochs_left.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
    return with_data_sharding(dataset)


def eval_dataset(images: np.ndarray, labels: np.ndarray, global_batch_size: int) -> tf.data.Dataset:
    """Validation or test batches in file order (no shuffle), sharded like training."""
    x, y = _tensors(images, labels)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(global_batch_size)
    return with_data_sharding(dataset.prefetch(tf.data.AUTOTUNE))


def resume_epoch(callbacks: Iterable[object]) -> int:
    """The epoch a ``keras.callbacks.BackupAndRestore`` among ``callbacks`` will resume at.

    ``BackupAndRestore`` restores the weights and the epoch counter inside
    ``model.fit``, after the input pipeline has been built; the pipeline reads
    the same backup (``training_metadata.json``) beforehand so that it starts at
    that epoch too. 0 when there is no such callback or no backup yet.
    """
    import keras

    for callback in callbacks:
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            path = callback._training_metadata_path
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    return int(json.load(handle)["epoch"])
    return 0
