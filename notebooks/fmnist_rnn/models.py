"""Model builders: the two-layer (hierarchical) LSTM of the book, and a registry.

Every builder takes the image tensor ``(N, 28, 28, 1)`` (float32 in [0, 1], what
``training.prepare(x)`` returns) and ends in ``Dense(10, softmax)``.

The two-layer LSTM follows the Keras example *mnist_hierarchical_rnn*: a first
LSTM, shared by every pixel column (``TimeDistributed``), turns each column into
a vector; a second LSTM reads the 28 column vectors; a dense layer classifies.
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
    """The two-layer LSTM: ``TimeDistributed(LSTM(units)) -> LSTM(units) -> Dense(10)``.

    Args:
        units: hidden size of both LSTMs (128: 199,434 parameters).
        read: ``"columns"``: the first LSTM reads each pixel column top to
            bottom (28 steps of one pixel), the second reads the 28 column
            vectors left to right. ``"rows"``: the same with rows, as the Keras
            example does. The caller always feeds the same ``(N, 28, 28, 1)`` tensor.
        dropout: rate of a ``Dropout`` layer between the two LSTMs (training only;
            it has no weights, so the weights are the same with or without it).
        name: model name; default ``two_layer_lstm_<read>``.

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
    """Return the builder registered as ``name``.

    Raises:
        ValueError: unknown name (the message lists the valid names).
    """
    if name not in BUILDERS:
        raise ValueError(
            f"unknown model builder {name!r}; valid names: {', '.join(sorted(BUILDERS))}"
        )
    return BUILDERS[name]
