"""ReNet (Visin et al., 2015): an image read by recurrent sweeps instead of convolutions.

One ReNet layer cuts the map into ``patch x patch`` patches, sweeps a bidirectional
LSTM down and up every column of patches, then another along every row: each patch's
vector then depends on the whole image. Layers stack like convolution blocks; every
sweep is one LSTM shared by all the columns (rows) it reads (``TimeDistributed``).
"""

from __future__ import annotations

import keras
from keras import layers

__all__ = ["renet", "renet_layer", "to_patches"]


def to_patches(x: keras.KerasTensor, patch: int, name: str) -> keras.KerasTensor:
    """(N, H, W, C) -> (N, H/patch, W/patch, patch*patch*C), non-overlapping patches.

    Raises:
        ValueError: ``H`` or ``W`` is not a multiple of ``patch``.
    """
    _, height, width, channels = x.shape
    if height % patch or width % patch:
        raise ValueError(f"a {height}x{width} map does not split into {patch}x{patch} patches")
    rows, cols = height // patch, width // patch
    x = layers.Reshape((rows, patch, cols, patch, channels), name=f"{name}_split")(x)
    x = layers.Permute((1, 3, 2, 4, 5), name=f"{name}_gather")(x)
    return layers.Reshape((rows, cols, patch * patch * channels), name=f"{name}_patches")(x)


def _sweep(x: keras.KerasTensor, units: int, name: str) -> keras.KerasTensor:
    """A bidirectional LSTM along axis 2 of (N, A, B, C), shared across axis 1."""
    lstm = layers.LSTM(units, return_sequences=True)
    return layers.TimeDistributed(layers.Bidirectional(lstm, name=f"{name}_bilstm"), name=name)(x)


def renet_layer(x: keras.KerasTensor, units: int, patch: int, name: str) -> keras.KerasTensor:
    """One ReNet layer: patches, a vertical sweep, then a horizontal sweep.

    Returns a map of shape (N, H/patch, W/patch, 2*units).
    """
    x = to_patches(x, patch, name)
    # Axis 1 is the patch row. Sweeping down a column means stepping over rows,
    # so the map is transposed (columns first) for the vertical sweep and back.
    x = layers.Permute((2, 1, 3), name=f"{name}_columns_first")(x)
    x = _sweep(x, units, f"{name}_vertical")
    x = layers.Permute((2, 1, 3), name=f"{name}_rows_first")(x)
    return _sweep(x, units, f"{name}_horizontal")


def renet(units: tuple[int, ...] = (32, 64), patch: int = 2, dropout: float = 0.3) -> keras.Model:
    """A ReNet classifier for (N, 28, 28, 1) images: one layer per entry of ``units`` (LSTM
    units per direction), ``patch`` x ``patch`` patches, ``dropout`` before the classifier.

    Raises:
        ValueError: no layers, or a patch size that does not divide the map.
    """
    if not units:
        raise ValueError("renet needs at least one layer (units is empty)")
    inputs = keras.Input((28, 28, 1), name="image")
    x = inputs
    for depth, n in enumerate(units, start=1):
        x = renet_layer(x, n, patch, name=f"renet{depth}")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(10, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name="renet")
