"""Evaluating a trained classifier: accuracy, per-class accuracy, confusions, mistakes.

Everything here takes a model (or its predicted probabilities) and uint8 images
as :class:`fmnist_rnn.data.Splits` holds them, so that the chapter, the training
command and the tests compute every number the same way.

:func:`prefix_probabilities` answers a question specific to the two-layer LSTM
(:func:`fmnist_rnn.models.two_layer_lstm`): what would the model say after its
second LSTM has read only the first ``k`` line vectors? It reuses the trained
line encoder, copies the second LSTM's weights into a ``keras.layers.LSTM`` with
``return_sequences=True`` and applies the trained dense head at every step.

Accuracy, per-class accuracy (recall) and the confusion matrix are scikit-learn's.
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
    "prefix_model",
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
    """The class pairs mixed up most often, in either direction.

    Returns:
        ``top`` tuples ``(a, b, a_as_b, b_as_a)`` with ``a < b``, sorted by
        ``a_as_b + b_as_a`` (largest first; ties by class indices).
    """
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


def prefix_model(model: keras.Model) -> keras.Model:
    """Image -> class probabilities after each of the 28 line vectors, ``(N, 28, 10)``.

    ``model`` is a trained :func:`~fmnist_rnn.models.two_layer_lstm`. Its output
    at step 28 is the model's own output.
    """
    second = model.get_layer("image_lstm")
    head = model.get_layer("classes")
    encoder = keras.Model(model.input, second.input, name="line_encoder")
    units = int(second.get_weights()[1].shape[0])
    reader = keras.layers.LSTM(units, return_sequences=True, name="image_lstm_steps")
    step_head = keras.layers.Dense(N_CLASSES, activation="softmax", name="classes_steps")
    outputs = step_head(reader(encoder.output))
    prefix = keras.Model(model.input, outputs, name=f"{model.name}_prefix")
    reader.set_weights(second.get_weights())
    step_head.set_weights(head.get_weights())
    return prefix


def prefix_probabilities(model: keras.Model, images: np.ndarray, batch_size: int = 500):
    """Probabilities after ``k = 1..28`` line vectors, shape ``(N, 28, 10)``."""
    return prefix_model(model).predict(prepare(images), batch_size=batch_size, verbose=0)


def accuracy_by_prefix(step_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy after k line vectors, per class: shape ``(28, 11)``.

    Column ``c < 10`` is the accuracy on the images of class ``c``; the last
    column is the accuracy on all images (NaN for a class without images).
    """
    labels = np.asarray(labels)
    correct = step_probabilities.argmax(axis=2) == labels[:, None]  # (N, 28)
    by_class = [
        correct[labels == c].mean(axis=0)
        if np.any(labels == c)
        else np.full(correct.shape[1], np.nan)
        for c in range(N_CLASSES)
    ]
    return np.stack([*by_class, correct.mean(axis=0)], axis=1)
