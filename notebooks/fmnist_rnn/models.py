"""Model builders: the book's two-layer (hierarchical) LSTM, and a registry of all of them.

Every builder takes ``(N, 28, 28, 1)`` in [0, 1] (``training.prepare``) and ends in
``Dense(10, softmax)``.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from . import baselines, renet

__all__ = ["BUILDERS", "READS", "get_builder", "two_layer_lstm"]

READS = ("columns", "rows")


def two_layer_lstm(
    units: int = 128, read: str = "columns", dropout: float = 0.0, name: str | None = None
) -> keras.Model:
    """The two-layer LSTM of the Keras example *mnist_hierarchical_rnn*, ``units`` in both.

    ``read="columns"``: a pixel LSTM, shared by all columns (``TimeDistributed``), reads
    each column top to bottom (28 steps of one pixel); an image LSTM reads the 28 column
    vectors left to right; ``Dense(10)`` classifies. ``"rows"``: the same with rows.
    ``dropout``: a ``Dropout`` layer between the two LSTMs (no weights, training only).

    Raises:
        ValueError: unknown ``read``.
    """
    if read not in READS:
        raise ValueError(f"unknown read {read!r}; expected one of {', '.join(READS)}")
    inputs = keras.Input((28, 28, 1), name="image")
    # Axis 1 of the image tensor is the pixel row. TimeDistributed steps over
    # axis 1, so reading columns means swapping rows and columns first.
    x = layers.Permute((2, 1, 3), name="columns_first")(inputs) if read == "columns" else inputs
    x = layers.TimeDistributed(layers.LSTM(units, name="pixel_lstm"), name="per_line")(x)
    if dropout:
        x = layers.Dropout(dropout, name="between")(x)
    x = layers.LSTM(units, name="image_lstm")(x)
    outputs = layers.Dense(10, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=name or f"two_layer_lstm_{read}")


#: Builders by name; each returns an uncompiled model taking (N, 28, 28, 1).
BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "two_layer_lstm": two_layer_lstm,
    "mlp": baselines.mlp,
    "small_cnn": baselines.small_cnn,
    "simple_rnn_rows": baselines.simple_rnn_rows,
    "lstm_rows": baselines.lstm_rows,
    "renet": renet.renet,
}


def get_builder(name: str) -> Callable[..., keras.Model]:
    """The builder registered as ``name``; ValueError listing the valid names otherwise."""
    if name not in BUILDERS:
        raise ValueError(
            f"unknown model builder {name!r}; valid names: {', '.join(sorted(BUILDERS))}"
        )
    return BUILDERS[name]
