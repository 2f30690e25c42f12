"""Evaluating a trained classifier on uint8 images: accuracy, per class, confusions, mistakes.

Accuracy, per-class accuracy (recall) and the confusion matrix are scikit-learn's.
:func:`prefix_probabilities` asks the two-layer LSTM what it would answer after its second
LSTM has read only the first ``k`` line vectors.
"""

from __future__ import annotations

import keras
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    confusion_matrix,
    recall_score,
)

from .data import CLASS_NAMES
from .training import prepare

__all__ = [
    "accuracy_by_prefix",
    "confident_mistakes",
    "confusion",
    "evaluate_accuracy",
    "most_confused_pairs",
    "per_class_accuracy",
    "plot_confusion",
    "predict_probabilities",
    "prefix_probabilities",
]

N_CLASSES = len(CLASS_NAMES)


def predict_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 500
) -> np.ndarray:
    """Class probabilities ``(N, 10)`` for uint8 images ``(N, 28, 28)``."""
    return model.predict(prepare(images), batch_size=batch_size, verbose=0)


def evaluate_accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of ``images`` whose most probable class is the label."""
    return float(accuracy_score(labels, predict_probabilities(model, images).argmax(axis=1)))


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The 10 x 10 confusion matrix: row = true class, column = predicted class."""
    return confusion_matrix(labels, predicted, labels=np.arange(N_CLASSES))


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The accuracy on the images of each class (its recall), shape (10,); NaN if absent."""
    return recall_score(
        labels, predicted, labels=np.arange(N_CLASSES), average=None, zero_division=np.nan
    )


def most_confused_pairs(matrix: np.ndarray, top: int = 5) -> list[tuple[int, int, int, int]]:
    """The ``top`` class pairs mixed up most often: ``(a, b, a_as_b, b_as_a)`` with ``a < b``,
    by decreasing ``a_as_b + b_as_a`` (ties by class indices)."""
    pairs = [
        (int(a), int(b), int(matrix[a, b]), int(matrix[b, a]))
        for a in range(len(matrix))
        for b in range(a + 1, len(matrix))
    ]
    pairs.sort(key=lambda p: (-(p[2] + p[3]), p[0], p[1]))
    return pairs[:top]


def confident_mistakes(probabilities: np.ndarray, labels: np.ndarray, n: int = 16) -> np.ndarray:
    """Indices of the ``n`` wrong predictions made with the highest probability."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != np.asarray(labels))
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")[:n]]


def plot_confusion(matrix: np.ndarray, title: str = "") -> Figure:
    """The confusion matrix with class names (scikit-learn's ``ConfusionMatrixDisplay``)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    display = ConfusionMatrixDisplay(matrix, display_labels=list(CLASS_NAMES))
    display.plot(ax=ax, cmap="Blues", xticks_rotation=45, colorbar=False, values_format="d")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def prefix_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 500
) -> np.ndarray:
    """A trained two-layer LSTM's probabilities after ``k = 1..28`` line vectors, ``(N, 28, 10)``.

    The trained line encoder, the image LSTM's weights in an LSTM with
    ``return_sequences=True``, the trained dense head at every step; step 28 is the model.
    """
    second = model.get_layer("image_lstm")
    encoder = keras.Model(model.input, second.input, name="line_encoder")
    reader = keras.layers.LSTM(second.units, return_sequences=True, name="image_lstm_steps")
    step_head = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes_steps")
    prefix = keras.Model(model.input, step_head(reader(encoder.output)), name="prefix")
    reader.set_weights(second.get_weights())
    step_head.set_weights(model.get_layer("classes").get_weights())
    return prefix.predict(prepare(images), batch_size=batch_size, verbose=0)


def accuracy_by_prefix(step_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy after ``k = 1..28`` line vectors, ``(28, 11)``: on each class (NaN if absent),
    then on all images."""
    labels = np.asarray(labels)
    correct = step_probabilities.argmax(axis=2) == labels[:, None]  # (N, 28)
    by_class = [
        correct[labels == c].mean(axis=0)
        if np.any(labels == c)
        else np.full(correct.shape[1], np.nan)
        for c in range(N_CLASSES)
    ]
    return np.stack([*by_class, correct.mean(axis=0)], axis=1)
