"""ReNet: an image read by recurrent sweeps in four directions instead of convolutions.

The two-layer LSTM of chapter 4 reads an image in one pass: down every pixel
column, then across the column summaries from left to right. ReNet
(Visin et al., 2015) makes that pass symmetric and stackable. One ReNet layer

1. cuts the image (or feature map) into non-overlapping ``patch x patch``
   patches, each flattened into a vector;
2. sweeps a bidirectional LSTM down and up every column of patches, so each
   patch gets a feature vector that knows its whole column;
3. sweeps a second bidirectional LSTM left and right along every row of those
   vectors, so each patch now knows its whole row *and*, through the first
   sweep, the whole image.

The output is a smaller feature map (one vector per patch), like a convolution
block's, so layers stack; a dense layer on the last map classifies. Every sweep
is a ``keras.layers.LSTM`` shared by all the columns (or rows) it reads, wrapped
in ``TimeDistributed``: the same weight sharing that the two-layer LSTM's pixel
LSTM uses, in both directions and at two scales.
"""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = ["draw_sweeps", "renet", "renet_layer", "to_patches"]


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
    """A ReNet classifier for (N, 28, 28, 1) images in [0, 1].

    Args:
        units: LSTM units per direction of each ReNet layer (one layer per entry).
        patch: patch size of every layer (28 must stay divisible along the way).
        dropout: dropout before the dense classifier.

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


def draw_sweeps(image: np.ndarray, patch: int = 2, column: int = 4, row: int = 9) -> Figure:
    """The first ReNet layer on one image: its patch grid and the two sweeps.

    Left: the vertical sweep (down and up one column of patches, shared by every
    column). Right: the horizontal sweep (left and right along one row of the
    vertical sweep's vectors, shared by every row).
    """
    n = 28 // patch
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
    titles = (
        f"1. vertical sweep: column {column} of {n}x{n} patches",
        f"2. horizontal sweep: row {row} of the column vectors",
    )
    for ax, title in zip(axes, titles, strict=True):
        ax.imshow(np.asarray(image).reshape(28, 28), cmap="gray_r", extent=(0, 28, 28, 0))
        for k in range(0, 29, patch):
            ax.axhline(k, color="C0", lw=0.3, alpha=0.6)
            ax.axvline(k, color="C0", lw=0.3, alpha=0.6)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
    x0, y0 = column * patch, row * patch
    axes[0].add_patch(Rectangle((x0, 0), patch, 28, fill=False, ec="C3", lw=2))
    axes[1].add_patch(Rectangle((0, y0), 28, patch, fill=False, ec="C3", lw=2))
    arrow = {"arrowstyle": "->", "lw": 2, "mutation_scale": 14}
    mid = patch / 2
    axes[0].annotate("", (x0 - 0.8, 27), (x0 - 0.8, 1), arrowprops={**arrow, "color": "C3"})
    axes[0].annotate(
        "", (x0 + patch + 0.8, 1), (x0 + patch + 0.8, 27), arrowprops={**arrow, "color": "C1"}
    )
    axes[1].annotate("", (27, y0 - 0.8), (1, y0 - 0.8), arrowprops={**arrow, "color": "C3"})
    axes[1].annotate(
        "", (1, y0 + patch + 0.8), (27, y0 + patch + 0.8), arrowprops={**arrow, "color": "C1"}
    )
    axes[0].plot(x0 + mid, 14, "o", color="C3")
    axes[1].plot(14, y0 + mid, "o", color="C3")
    fig.suptitle("One ReNet layer: a bidirectional LSTM down/up the columns, then left/right")
    fig.tight_layout()
    return fig
