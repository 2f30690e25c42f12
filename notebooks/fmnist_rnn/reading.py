"""Watch the two-layer LSTM read one garment, column by column, in NumPy.

:func:`read_columns` recomputes a trained :func:`fmnist_rnn.models.two_layer_lstm`
(reading columns) with the NumPy LSTM of :mod:`fmnist_rnn.cells`: the pixel LSTM's
gates and cell state on every column, the 28 column vectors, and the class
probabilities that the image LSTM and the dense head give after each column.
:func:`reading_figure` draws one frame per column, for
``matplotlib.animation.FuncAnimation`` (whose ``to_jshtml()`` embeds the frames
in a static page; :func:`offline_html` makes that page work without a network);
:func:`reading_snapshots` draws a few frames for a printed page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import Animation
from matplotlib.figure import Figure

from .cells import lstm_forward
from .data import CLASS_NAMES

__all__ = [
    "Reading",
    "busiest_units",
    "offline_html",
    "read_columns",
    "reading_figure",
    "reading_snapshots",
]

GATE_COLOURS = {"i": "C0", "f": "C2", "o": "C3"}
WIDTHS = (1, 1.2, 1.2, 1.1)


@dataclass(frozen=True)
class Reading:
    """One image as the two-layer LSTM reads it (columns j = 1..28, rows t = 1..28).

    Attributes:
        image: the pixels, (28, 28), in [0, 1]; ``image[t - 1, j - 1]`` is row t of column j.
        pixel: the pixel LSTM on every column: ``{"i", "f", "g", "o", "c", "h"}``,
            each (28 columns, 28 rows, units).
        column_vectors: ``pixel["h"][:, -1]``, the 28 column vectors, (28, units).
        probabilities: class probabilities after the image LSTM has read
            columns 1..k, row ``k - 1``, (28, 10).
    """

    image: np.ndarray
    pixel: dict[str, np.ndarray]
    column_vectors: np.ndarray
    probabilities: np.ndarray


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_columns(image: np.ndarray, weights: Sequence[np.ndarray]) -> Reading:
    """Run the two-layer LSTM over one image in NumPy (float64).

    Args:
        image: (28, 28) pixels scaled to [0, 1] (as the model sees them).
        weights: ``model.get_weights()`` of a two-layer LSTM that reads columns:
            pixel LSTM (kernel, recurrent kernel, bias), image LSTM (the same
            three), dense head (kernel, bias).

    Raises:
        ValueError: not eight weight arrays, or an image that is not 28 x 28.
    """
    if len(weights) != 8:
        raise ValueError(f"expected the 8 weight arrays of a two-layer LSTM, got {len(weights)}")
    image = np.asarray(image, dtype=np.float64)
    if image.shape != (28, 28):
        raise ValueError(f"image must be 28 x 28, got {image.shape}")
    pixel_w, image_w, (dense_kernel, dense_bias) = weights[:3], weights[3:6], weights[6:]
    # The 28 columns are 28 independent sequences of 28 one-pixel steps (top to bottom).
    pixel = lstm_forward(image.T[:, :, None], *pixel_w)
    column_vectors = pixel["h"][:, -1]
    second = lstm_forward(column_vectors[None], *image_w)
    probabilities = _softmax(second["h"][0] @ dense_kernel + dense_bias)
    return Reading(image, pixel, column_vectors, probabilities)


def _draw(axes, reading: Reading, k: int, label: int | None, units: np.ndarray) -> None:
    """Draw frame ``k`` (columns 1..k read) into four axes."""
    for ax in axes:
        ax.clear()
    extent = (0.5, 28.5, 28.5, 0.5)  # columns j and rows t counted from 1
    shown = np.where(np.arange(28) < k, reading.image, np.nan)
    axes[0].imshow(reading.image, cmap="gray_r", vmin=0, vmax=1, alpha=0.15, extent=extent)
    axes[0].imshow(shown, cmap="gray_r", vmin=0, vmax=1, extent=extent)
    axes[0].axvline(k + 0.5, color="C1", lw=1.5)  # the right edge of column k
    axes[0].set(title=f"pixels read: columns 1-{k}", xlabel="column j", ylabel="row t")

    rows = np.arange(1, 29)
    axes[1].bar(rows, reading.image[:, k - 1], color="0.85", width=1.0, label="pixel")
    for gate, colour in GATE_COLOURS.items():
        axes[1].plot(rows, reading.pixel[gate][k - 1].mean(axis=1), color=colour, label=gate)
    axes[1].set(ylim=(0, 1), xlim=(0.5, 28.5), xlabel="row t", ylabel="gate, mean over units")
    axes[1].set_title(f"pixel LSTM gates, column {k}")
    axes[1].legend(fontsize=7, loc="upper left", ncol=4, handlelength=1)

    cells = reading.pixel["c"][:, :, units]  # (columns, rows, shown units)
    scale = float(np.abs(cells).max()) or 1.0  # one colour scale for all frames
    axes[2].imshow(
        cells[k - 1].T,
        aspect="auto",
        cmap="RdBu_r",
        vmin=-scale,
        vmax=scale,
        interpolation="nearest",
        extent=(0.5, 28.5, len(units) + 0.5, 0.5),
    )
    axes[2].set(
        title=f"cell state $c_t$, column {k}",
        xlabel="row t",
        ylabel=f"the {len(units)} busiest units",
    )

    colours = ["0.6"] * 10
    if label is not None:
        colours[label] = "C2"
    axes[3].barh(range(10), reading.probabilities[k - 1], color=colours)
    axes[3].set_yticks(range(10), CLASS_NAMES, fontsize=7)
    axes[3].invert_yaxis()
    axes[3].set(xlim=(0, 1), xlabel="probability", title=f"image LSTM after {k} column(s)")


def busiest_units(reading: Reading, n: int = 24) -> np.ndarray:
    """The ``n`` units whose cell state varies most over the image, in unit order."""
    spread = reading.pixel["c"].reshape(-1, reading.pixel["c"].shape[-1]).std(axis=0)
    return np.sort(np.argsort(-spread, kind="stable")[:n])


def reading_figure(
    reading: Reading, label: int | None = None, size: tuple[float, float] = (10, 2.6)
) -> tuple[Figure, Callable[[int], list]]:
    """A figure of four panels and ``draw(k)``, which draws frame k = 1..28 into it.

    The panels: the pixels of columns 1..k; the pixel LSTM's gates i, f, o on
    column k (mean over its units) at each row; its cell state on column k for
    the :func:`busiest_units`; the class probabilities after k columns (the true
    class ``label`` in green). ``draw`` is what
    ``matplotlib.animation.FuncAnimation`` calls for each frame.
    """
    fig, axes = plt.subplots(1, 4, figsize=size, gridspec_kw={"width_ratios": WIDTHS})
    units = busiest_units(reading)

    def draw(k: int) -> list:
        _draw(axes, reading, k, label, units)
        return list(axes)

    draw(28)
    fig.tight_layout()  # once: every frame has the same layout
    return fig, draw


def reading_snapshots(
    reading: Reading, ks: Sequence[int] = (4, 10, 16, 28), label: int | None = None
) -> Figure:
    """Some frames of :func:`reading_figure`, one per row, for a page without JavaScript."""
    fig, axes = plt.subplots(
        len(ks), 4, figsize=(11, 2.6 * len(ks)), gridspec_kw={"width_ratios": WIDTHS}
    )
    units = busiest_units(reading)
    for row, k in zip(np.atleast_2d(axes), ks, strict=True):
        _draw(row, reading, k, label, units)
    fig.tight_layout()
    return fig


# The player's buttons as text: matplotlib draws them with icons from a web font that it
# links from a CDN, which a page opened without a network cannot load.
_BUTTON_TEXT = {
    "fa-minus": "\u2212",
    "fa-fast-backward": "\u23ee",
    "fa-step-backward": "\u25c0|",
    "fa-play fa-flip-horizontal": "\u25c0",
    "fa-pause": "\u23f8",
    "fa-play": "\u25b6",
    "fa-step-forward": "|\u25b6",
    "fa-fast-forward": "\u23ed",
    "fa-plus": "+",
}


def offline_html(animation: Animation, **kwargs) -> str:
    """``animation.to_jshtml(**kwargs)`` without the web-font link: text buttons instead."""
    html = animation.to_jshtml(**kwargs)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", html)
    for icon, text in _BUTTON_TEXT.items():
        html = html.replace(f'<i class="fa {icon}"></i>', text)
    return html
