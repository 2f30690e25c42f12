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

__all__ = ["batches", "fit", "prepare", "smoothed_crossentropy"]


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> the float32 (N, 28, 28, 1) tensor the models take."""
    return as_image_tensor(scale(images))


def batches(
    images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool = False
) -> tf.data.Dataset:
    """``(prepare(images), labels)`` in batches, as the ``tf.data.Dataset`` ``fit`` reads.

    With ``shuffle``, every pass (epoch) visits the images in a new random order, drawn
    from TensorFlow's global seed (:func:`fmnist_rnn.seeding.set_seed`). Each new
    dataset (or process) starts that sequence of orders again: a run resumed from a
    backup sees, after the restart, the orders of its first epochs again, so it is not
    the uninterrupted run. (Keras's own shuffle of NumPy arrays, used before, gave the
    same order in every epoch once a seed was set.) tf.data's autotuning is turned off:
    this pipeline only slices arrays held in memory, and the autotuning thread made new
    epochs wait about 40 s while the previous epoch's iterator was deleted (the run in
    the trials README of ``notebooks/checkpoints``).
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("no images to batch")
    data = tf.data.Dataset.from_tensor_slices((prepare(images), labels))
    if shuffle:
        data = data.shuffle(len(labels), reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.batch(batch_size).prefetch(1).with_options(options)


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
) -> keras.callbacks.History:
    """Train ``model`` on ``splits`` (uint8, scaled here; :func:`batches`, the training
    split reshuffled every epoch), validating after each epoch.

    A model not compiled yet is compiled with the Keras example's setup:
    ``RMSprop(learning_rate)``, sparse categorical cross-entropy. Returns Keras's ``History``.
    """
    if not model.compiled:
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model.fit(
        batches(splits.x_train, splits.y_train, batch_size, shuffle=True),
        epochs=epochs,
        validation_data=batches(splits.x_val, splits.y_val, batch_size),
        shuffle=False,  # the batches are reshuffled by tf.data, not by Keras
        callbacks=list(callbacks),
        verbose=verbose,
    )
