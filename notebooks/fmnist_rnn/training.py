"""Training: the images as the models take them, and one plain Keras ``fit``.

Usage::

    from fmnist_rnn import load_splits, training
    from fmnist_rnn.models import two_layer_lstm

    model = two_layer_lstm()
    history = training.fit(model, load_splits(), epochs=5, batch_size=32)

A model that is not compiled yet is compiled with the Keras example's setup
(RMSprop, learning rate 1e-3, sparse categorical cross-entropy); compile it
yourself for another optimizer or schedule (the training command does).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from .data import Splits
from .sequences import as_image_tensor, scale

__all__ = ["fit", "prepare"]


def prepare(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> the float32 (N, 28, 28, 1) tensor the models take."""
    return as_image_tensor(scale(images))


def fit(
    model: keras.Model,
    splits: Splits,
    epochs: int,
    batch_size: int = 32,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    learning_rate: float = 1e-3,
) -> keras.callbacks.History:
    """Train ``model`` on ``splits.x_train``, validating on ``splits.x_val`` after each epoch.

    Args:
        model: a Keras model taking (N, 28, 28, 1); compiled here with
            ``RMSprop(learning_rate)`` unless it is compiled already.
        splits: the data (uint8 arrays, scaled here).
        epochs: passes over the training split (ask the run profile first).
        batch_size: images per update; the training images are reshuffled every epoch.
        callbacks: Keras callbacks (backups, checkpoints, logs, ...).
        verbose: passed to ``model.fit``.
        learning_rate: RMSprop's learning rate when ``fit`` compiles the model.

    Returns:
        The Keras ``History``; ``history.model`` is ``model``, trained.
    """
    if not model.compiled:
        model.compile(
            optimizer=keras.optimizers.RMSprop(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model.fit(
        prepare(splits.x_train),
        splits.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(prepare(splits.x_val), splits.y_val),
        shuffle=True,
        callbacks=list(callbacks),
        verbose=verbose,
    )
