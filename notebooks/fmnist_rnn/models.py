"""Model builders: the two-layer (hierarchical) LSTM of the book, and a registry.

Every builder takes the image tensor ``(N, 28, 28, 1)`` (float32 in [0, 1], what
``as_image_tensor(scale(x))`` returns) and ends in ``Dense(10, softmax)``.

The two-layer LSTM follows the Keras example *mnist_hierarchical_rnn*: a first
LSTM, shared by every pixel column (``TimeDistributed``), turns each column into
a vector; a second LSTM reads the 28 column vectors; a dense layer classifies.

``implementation="fast"`` builds the same function with
:class:`fmnist_rnn.fast_lstm.FastLSTM` (columns folded into the batch
explicitly, hand-written backward pass). Both implementations hold the same
weights in the same shapes and order, so ``fast.set_weights(faithful.get_weights())``
(and back) moves a trained model between them.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from . import baselines, renet
from .fast_lstm import FastLSTM

__all__ = [
    "BUILDERS",
    "IMPLEMENTATIONS",
    "READS",
    "get_builder",
    "register_builder",
    "two_layer_lstm",
]

IMAGE_SIZE = 28
READS = ("columns", "rows")
IMPLEMENTATIONS = ("keras", "keras_rnn_cell", "fast")


def _check(read: str, implementation: str) -> None:
    if read not in READS:
        raise ValueError(f"unknown read {read!r}; expected one of {', '.join(READS)}")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown implementation {implementation!r}; "
            f"expected one of {', '.join(IMPLEMENTATIONS)}"
        )


def two_layer_lstm(
    units: int = 128,
    read: str = "columns",
    implementation: str = "keras",
    matmul_dtype: str = "float32",
    skip_blank: bool = False,
    chains: int = 1,
    name: str | None = None,
) -> keras.Model:
    """The two-layer LSTM: ``TimeDistributed(LSTM(units)) -> LSTM(units) -> Dense(10)``.

    Args:
        units: hidden size of both LSTMs (128: 199,434 parameters).
        read: ``"columns"``: the first LSTM reads each pixel column top to
            bottom (28 steps of one pixel), the second reads the 28 column
            vectors left to right. ``"rows"``: the same with rows (the image is
            transposed inside the model, so the caller always feeds the same
            ``(N, 28, 28, 1)`` tensor).
        implementation: ``"keras"`` (``keras.layers.LSTM``, as in the Keras
            example; cuDNN on a GPU), ``"keras_rnn_cell"``
            (``keras.layers.RNN(LSTMCell)``, the generic loop, never cuDNN) or
            ``"fast"`` (:class:`~fmnist_rnn.fast_lstm.FastLSTM`, the same function,
            faster on CPU).
        matmul_dtype: ``"float32"`` or ``"bfloat16"``; only for ``"fast"``: the
            dtype of the recurrent matrix products.
        skip_blank: only for ``"fast"``: the first LSTM skips the blank pixels
            at the start of each line (from a zero state they change every line
            alike, so they are computed once per batch). Same outputs and weight
            gradients; no gradient with respect to the input image.
        chains: only for ``"fast"``: the first LSTM cuts each batch into this
            many independent loops, which run on different cores (same result).
        name: model name; default ``two_layer_lstm_<read>``.

    Raises:
        ValueError: unknown ``read`` or ``implementation``.
    """
    _check(read, implementation)
    if (matmul_dtype != "float32" or skip_blank or chains != 1) and implementation != "fast":
        raise ValueError("matmul_dtype, skip_blank and chains apply only to implementation='fast'")
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    # Axis 1 of the image tensor is the pixel row. TimeDistributed steps over
    # axis 1, so reading columns means swapping rows and columns first.
    x = layers.Permute((2, 1, 3), name="columns_first")(inputs) if read == "columns" else inputs
    if implementation == "fast":
        # Fold the 28 sequences of each image into the batch explicitly.
        x = FoldLines(name="fold")(x)
        x = FastLSTM(
            units,
            matmul_dtype=matmul_dtype,
            skip_leading_blank=skip_blank,
            chains=chains,
            name="pixel_lstm",
        )(x)
        x = UnfoldLines(name="unfold")(x)
        x = FastLSTM(units, matmul_dtype=matmul_dtype, name="image_lstm")(x)
    else:
        if implementation == "keras":
            first = layers.LSTM(units, name="pixel_lstm")
            second = layers.LSTM(units, name="image_lstm")
        else:
            first = layers.RNN(layers.LSTMCell(units), name="pixel_lstm")
            second = layers.RNN(layers.LSTMCell(units), name="image_lstm")
        x = layers.TimeDistributed(first, name="per_line")(x)
        x = second(x)
    outputs = layers.Dense(10, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name=name or f"two_layer_lstm_{read}")


@keras.saving.register_keras_serializable(package="fmnist_rnn")
class FoldLines(layers.Layer):
    """(N, 28, 28, 1) -> (N*28, 28, 1): every line of every image becomes one sequence."""

    def call(self, t):
        """Reshape, keeping the order of images and lines."""
        return keras.ops.reshape(t, (-1, IMAGE_SIZE, 1))

    def compute_output_shape(self, input_shape):
        """Unknown batch, (28, 1) per sequence."""
        return (None, IMAGE_SIZE, 1)


@keras.saving.register_keras_serializable(package="fmnist_rnn")
class UnfoldLines(layers.Layer):
    """(N*28, units) -> (N, 28, units): the line vectors of each image, in order."""

    def call(self, t):
        """Reshape back to one sequence of 28 line vectors per image."""
        return keras.ops.reshape(t, (-1, IMAGE_SIZE, t.shape[-1]))

    def compute_output_shape(self, input_shape):
        """Unknown batch, (28, units) per image."""
        return (None, IMAGE_SIZE, input_shape[-1])


#: Builders by name; each returns an uncompiled model taking (N, 28, 28, 1).
BUILDERS: dict[str, Callable[..., keras.Model]] = {
    "two_layer_lstm": two_layer_lstm,
    "mlp": baselines.mlp,
    "small_cnn": baselines.small_cnn,
    "simple_rnn_rows": baselines.simple_rnn_rows,
    "lstm_rows": baselines.lstm_rows,
    "renet": renet.renet,
}


def register_builder(name: str, builder: Callable[..., keras.Model]) -> None:
    """Add a builder to :data:`BUILDERS` (later chapters register their baselines)."""
    if name in BUILDERS and BUILDERS[name] is not builder:
        raise ValueError(f"a different builder is already registered as {name!r}")
    BUILDERS[name] = builder


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
