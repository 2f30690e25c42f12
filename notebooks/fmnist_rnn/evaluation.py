"""Evaluating a trained classifier: accuracy, per-class accuracy, confusions, mistakes.

Everything here takes a model (or its predicted probabilities) and uint8 test
images as :class:`fmnist_rnn.data.Splits` holds them, so that the chapter, the
training command and the tests compute every number the same way.
"""

from __future__ import annotations

import keras
import numpy as np

from .training import prepare

__all__ = ["evaluate_accuracy", "predict_probabilities"]

N_CLASSES = 10


def predict_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 500):
    """Class probabilities ``(N, 10)`` for uint8 images ``(N, 28, 28)``."""
    return model.predict(prepare(images), batch_size=batch_size, verbose=0)


def evaluate_accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of ``images`` whose most probable class is the label."""
    predicted = predict_probabilities(model, images).argmax(axis=1)
    return float(np.mean(predicted == np.asarray(labels)))
