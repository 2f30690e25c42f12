"""Training: the images as the models take them, and one plain Keras ``fit``::

history = training.fit(two_layer_lstm(), load_splits(), epochs=5, batch_size=32)
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
    """Train ``model`` on ``splits`` (uint8, scaled here), validating after each epoch.

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
        prepare(splits.x_train),
        splits.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(prepare(splits.x_val), splits.y_val),
        shuffle=True,
        callbacks=list(callbacks),
        verbose=verbose,
    )
