"""Baselines of chapter 5, uncompiled Keras models fed the same (N, 28, 28, 1) tensor.

An MLP (every pixel an input), a small CNN, a plain RNN and a one-layer LSTM over the rows.
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["lstm_rows", "mlp", "simple_rnn_rows", "small_cnn"]

INPUT_SHAPE = (28, 28, 1)
N_CLASSES = 10


def _rows(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """(N, 28, 28, 1) -> (N, 28, 28): 28 time steps (rows) of 28 features."""
    return layers.Reshape((28, 28), name="rows")(inputs)


def _head(features: keras.KerasTensor) -> keras.KerasTensor:
    return layers.Dense(N_CLASSES, activation="softmax", name="classifier")(features)


def mlp(hidden: int = 256, dropout: float = 0.2) -> keras.Model:
    """Flatten the 784 pixels, two hidden ReLU layers, softmax."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.Flatten()(inputs)
    x = layers.Dense(hidden, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(hidden // 2, activation="relu")(x)
    return keras.Model(inputs, _head(x), name="mlp")


def small_cnn(filters: int = 32, dropout: float = 0.3) -> keras.Model:
    """Two 3x3 convolution + max-pool blocks, a dense layer, softmax."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(2 * filters, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, _head(x), name="small_cnn")


def simple_rnn_rows(units: int = 128) -> keras.Model:
    """A plain ``SimpleRNN`` over the 28 rows; its last state feeds the classifier."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.SimpleRNN(units, name="simple_rnn")(_rows(inputs))
    return keras.Model(inputs, _head(x), name="simple_rnn_rows")


def lstm_rows(units: int = 128) -> keras.Model:
    """A one-layer ``LSTM`` over the 28 rows; its last state feeds the classifier."""
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.LSTM(units, name="lstm")(_rows(inputs))
    return keras.Model(inputs, _head(x), name="lstm_rows")
