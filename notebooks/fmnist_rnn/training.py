"""Training: the images as the models take them, and one plain Keras ``fit``::

history = training.fit(two_layer_lstm(), load_splits(), epochs=5, batch_size=32)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from .data import Splits
from .sequences import as_image_tensor, scale

__all__ = [
    "EpochSeeds",
    "EpochShuffle",
    "batches",
    "epoch_order",
    "fit",
    "prepare",
    "random_states",
    "smoothed_crossentropy",
]


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> the float32 (N, 28, 28, 1) tensor the models take."""
    return as_image_tensor(scale(images))


def _without_autotuning(data: tf.data.Dataset) -> tf.data.Dataset:
    # These pipelines only slice arrays held in memory. tf.data's autotuning thread made
    # many new epochs (13 of 30) wait about 40 s while Keras deleted an iterator (the
    # 58354a6 rerun in the trials README of ``notebooks/checkpoints``), so it is turned off.
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.prefetch(1).with_options(options)


def _checked(images: np.ndarray, labels: np.ndarray) -> None:
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("no images to batch")


def batches(images: np.ndarray, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """``(prepare(images), labels)`` in order, in batches: the ``tf.data.Dataset`` that
    ``fit`` validates on (:class:`EpochShuffle` gives the shuffled training batches)."""
    _checked(images, labels)
    data = tf.data.Dataset.from_tensor_slices((prepare(images), labels))
    return _without_autotuning(data.batch(batch_size))


def epoch_order(count: int, seed: int, epoch: int) -> tf.Tensor:
    """The order in which epoch ``epoch`` visits ``count`` images (int64 indices).

    A stateless shuffle (Philox) seeded by ``(seed, epoch)`` alone: it does not depend
    on how many epochs this process has run, nor on any global random state.
    """
    return tf.random.experimental.stateless_shuffle(
        tf.range(count, dtype=tf.int64), seed=tf.constant([seed, epoch], tf.int64), alg="philox"
    )


class EpochShuffle(keras.callbacks.Callback):
    """The training batches, in a new order every epoch, drawn from ``(seed, epoch)``.

    ``dataset`` yields ``(prepare(images), labels)`` batches in the order
    :func:`epoch_order` gives the current epoch. Passed to ``fit`` as a callback, it
    draws that order when Keras starts an epoch (``on_epoch_begin``), with the epoch's
    own number, also in a run that ``keras.callbacks.BackupAndRestore`` resumes: a
    resumed run sees the orders the uninterrupted one saw.

    It must be among ``fit``'s callbacks (without it every epoch gets epoch 0's order),
    and ``fit`` must not be given ``steps_per_epoch``: only then does Keras build each
    epoch's iterator after ``on_epoch_begin``, as :func:`fit` does.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        _checked(images, labels)
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.seed = seed
        self.count = len(labels)
        with tf.device("/CPU:0"):  # where tf.data reads it, also when a GPU is visible
            self.order = tf.Variable(epoch_order(self.count, seed, 0), trainable=False)
        x, y = tf.constant(prepare(images)), tf.constant(labels)

        def batch(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            index = self.order[i * batch_size : (i + 1) * batch_size]
            return tf.gather(x, index), tf.gather(y, index)

        steps = -(-self.count // batch_size)  # the last batch may be smaller
        self.dataset = _without_autotuning(tf.data.Dataset.range(steps).map(batch))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.order.assign(epoch_order(self.count, self.seed, epoch))


def random_states(model: keras.Model) -> list[keras.Variable]:
    """The states of ``model``'s random number generators (Keras ``SeedGenerator``s, as in
    random shifts, flips, erasing and dropout): its ``variables`` that are not ``weights``,
    which ``save_weights`` and so ``keras.callbacks.BackupAndRestore`` leave out."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class EpochSeeds(keras.callbacks.Callback):
    """Random layers that draw from ``(seed, epoch)``: a resumed run draws what the
    uninterrupted one drew.

    When Keras starts an epoch (``on_epoch_begin``, with the epoch's own number, also in
    a run that ``BackupAndRestore`` resumes with its default ``save_freq="epoch"``), every
    state in :func:`random_states` of the model, in their order, is set to its own pair of
    numbers drawn by a stateless generator (Philox) seeded by ``(seed, epoch)``; during
    the epoch each layer draws batch by batch from its state as usual. A model without
    random layers is left as it is.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        states = random_states(self.model)
        values = tf.random.stateless_uniform(
            (len(states), 2),
            seed=tf.constant([self.seed, epoch], tf.int64),
            minval=0,
            # Keras reduces a state modulo 2**31 - 2 before TensorFlow's random ops and adds
            # 1 to its second number per draw: below 2**30, an epoch's draws never wrap.
            maxval=2**30,
            dtype=tf.int64,
            alg="philox",
        )
        for state, value in zip(states, values, strict=True):
            state.assign(tf.cast(value, state.dtype))


def smoothed_crossentropy(epsilon: float, classes: int = 10):
    """Cross-entropy of integer labels against smoothed targets: a Keras loss function.

    The target of an image of class ``y`` is ``(1 - epsilon)`` on ``y`` plus ``epsilon /
    classes`` on every class (label smoothing), through Keras's categorical cross-entropy.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing must be in [0, 1), got {epsilon}")

    def loss(y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        targets = keras.ops.one_hot(labels, classes)
        return keras.losses.categorical_crossentropy(targets, y_pred, label_smoothing=epsilon)

    return loss


def fit(
    model: keras.Model,
    splits: Splits,
    epochs: int,
    batch_size: int = 32,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> keras.callbacks.History:
    """Train ``model`` on ``splits`` (uint8, scaled here), validating after each epoch.

    Every epoch, the order of the training split (:class:`EpochShuffle`) and the starting
    state of the model's random layers (:class:`EpochSeeds`) are drawn from ``(seed,
    epoch)``; the validation split comes in order (:func:`batches`).

    A model not compiled yet is compiled with the Keras example's setup:
    ``RMSprop(learning_rate)``, sparse categorical cross-entropy. Returns Keras's ``History``.
    """
    if not model.compiled:
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    shuffle = EpochShuffle(splits.x_train, splits.y_train, batch_size, seed)
    return model.fit(
        shuffle.dataset,
        epochs=epochs,
        validation_data=batches(splits.x_val, splits.y_val, batch_size),
        shuffle=False,  # the batches come shuffled (EpochShuffle), not by Keras
        callbacks=[shuffle, EpochSeeds(seed), *callbacks],
        verbose=verbose,
    )
