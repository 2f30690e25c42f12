"""Figures the chapters share: image grids, class statistics, an image read as a sequence.

Every function draws on a new figure (or on ``ax`` when given), titles it,
labels its axes and returns the figure, so a notebook cell is one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from sklearn.metrics import pairwise_distances

from .data import CLASS_NAMES

__all__ = [
    "class_distances",
    "class_means",
    "grouped_bars",
    "plot_class_balance",
    "plot_class_distances",
    "plot_class_grid",
    "plot_mean_images",
    "plot_pixel_histogram",
    "plot_sequence_reading",
    "show_images",
]


def class_means(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The mean image of each class, shape (10, 28, 28), in the images' units."""
    return np.stack([images[labels == k].mean(axis=0) for k in range(len(CLASS_NAMES))])


def class_distances(means: np.ndarray) -> np.ndarray:
    """Euclidean distances between the class mean images, a symmetric (10, 10) matrix."""
    flat = means.reshape(len(means), -1)
    return pairwise_distances(flat, flat)


def show_images(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    size: float = 1.3,
) -> Figure:
    """A grid of greyscale images with optional per-image titles."""
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4))
    for k, ax in enumerate(np.atleast_1d(axes).flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap="gray_r")
            if titles is not None:
                ax.set_title(titles[k], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_class_grid(
    images: np.ndarray, labels: np.ndarray, per_class: int = 8, seed: int = 0
) -> Figure:
    """``per_class`` random examples of every class, one class per row."""
    rng = np.random.default_rng(seed)
    n_classes = len(CLASS_NAMES)
    fig, axes = plt.subplots(n_classes, per_class, figsize=(1.1 * per_class + 1.2, 1.1 * n_classes))
    for k, row in enumerate(axes):
        picks = rng.choice(np.flatnonzero(labels == k), size=per_class, replace=False)
        for ax, index in zip(row, picks, strict=True):
            ax.imshow(images[index], cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(f"{k}: {CLASS_NAMES[k]}", rotation=0, ha="right", va="center")
    fig.suptitle(f"{per_class} random training images per class")
    fig.tight_layout()
    return fig


def grouped_bars(
    ax: Axes, series: Mapping[str, Sequence[float]], horizontal: bool = False
) -> list[BarContainer]:
    """One group of bars per position ``0..n-1``, one bar per series, side by side.

    ``series`` maps a legend label to its ``n`` values; the groups are centred on
    the integer positions, so ``ax.set_xticks(range(n), names)`` labels them.
    """
    width = 0.8 / len(series)
    containers = []
    for k, (label, values) in enumerate(series.items()):
        positions = np.arange(len(values)) + (k - (len(series) - 1) / 2) * width
        draw = ax.barh if horizontal else ax.bar
        containers.append(draw(positions, values, width, label=label))
    return containers


def plot_class_balance(splits: dict[str, np.ndarray]) -> Figure:
    """Images per class in each split, as grouped bars with counts."""
    fig, ax = plt.subplots(figsize=(10, 3.8))
    counts = {
        name: np.bincount(labels, minlength=len(CLASS_NAMES)) for name, labels in splits.items()
    }
    for bars in grouped_bars(ax, counts):
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=30, ha="right")
    ax.set_xlabel("class")
    ax.set_ylabel("number of images")
    ax.set_title("Class balance: every class has the same number of images")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_mean_images(means: np.ndarray) -> Figure:
    """The mean image of each class, on one shared intensity scale."""
    fig, axes = plt.subplots(1, len(means), figsize=(1.6 * len(means), 2.2))
    for k, ax in enumerate(axes):
        image = ax.imshow(means[k], cmap="magma", vmin=0, vmax=means.max())
        ax.set_title(CLASS_NAMES[k], fontsize=9)
        ax.axis("off")
    fig.colorbar(image, ax=axes, fraction=0.02, label="mean pixel value")
    fig.suptitle("Mean image per class")
    return fig


def plot_pixel_histogram(splits: dict[str, np.ndarray]) -> Figure:
    """Histogram of pixel intensities (0..1) per split, log count axis."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    bins = np.linspace(0, 1, 52)
    for name, images in splits.items():
        ax.hist(images.ravel(), bins=bins, histtype="step", lw=1.5, density=True, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("pixel intensity (0 = background, 1 = brightest)")
    ax.set_ylabel("density (log scale)")
    ax.set_title("Pixel intensities: mostly background, a broad spread of garment pixels")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_class_distances(means: np.ndarray) -> Figure:
    """Euclidean distances between class mean images, annotated."""
    dist = class_distances(means)
    fig, ax = plt.subplots(figsize=(6.8, 5.8))
    image = ax.imshow(dist, cmap="viridis")
    for i in range(len(dist)):
        for j in range(len(dist)):
            color = "white" if dist[i, j] < dist.max() / 2 else "black"
            ax.text(j, i, f"{dist[i, j]:.1f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(dist)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(dist)), CLASS_NAMES)
    ax.set_title("Distance between class mean images (small = look alike)")
    fig.colorbar(image, ax=ax, label="Euclidean distance (pixels in [0, 1])")
    fig.tight_layout()
    return fig


def plot_sequence_reading(
    image: np.ndarray, label: int, read: str = "columns", steps: Sequence[int] = (6, 14, 21)
) -> Figure:
    """One garment read as a sequence: marked time steps, their input vectors, the pixel view.

    Left: the image with a few time steps (columns or rows) outlined. Middle:
    the pixel values of those steps, the vectors ``x_t`` a recurrent network
    receives. Right: the same image read pixel by pixel, a 784-step signal.
    """
    if read not in ("columns", "rows"):
        raise ValueError(f"read must be 'columns' or 'rows', got {read!r}")
    sequence = image.T if read == "columns" else image  # sequence[t] is step t
    fig, (ax_img, ax_vec, ax_pix) = plt.subplots(
        1, 3, figsize=(14, 4), gridspec_kw={"width_ratios": [1, 1.1, 1.6]}
    )
    ax_img.imshow(image, cmap="gray_r")
    colors = plt.cm.tab10(np.arange(len(steps)))
    for t, color in zip(steps, colors, strict=True):
        corner = (t - 0.5, -0.5) if read == "columns" else (-0.5, t - 0.5)
        size = (1, 28) if read == "columns" else (28, 1)
        ax_img.add_patch(Rectangle(corner, *size, fill=False, ec=color, lw=2))
        ax_vec.plot(np.arange(28), sequence[t], color=color, lw=2, marker=".", label=f"t = {t}")
    ax_img.set_title(f"{CLASS_NAMES[label]}: {read} are time steps")
    ax_img.set_xlabel("column")
    ax_img.set_ylabel("row")
    ax_vec.set_xlabel(f"feature index (position within the {read[:-1]})")
    ax_vec.set_ylabel("pixel intensity")
    ax_vec.set_title("Input vectors $x_t$ at three time steps")
    ax_vec.legend(fontsize=8)
    ax_pix.plot(np.arange(784), image.ravel(), lw=0.8, color="0.2")
    for row in range(0, 784, 28):
        ax_pix.axvline(row, color="0.85", lw=0.5, zorder=0)
    ax_pix.set_xlim(0, 783)
    ax_pix.set_xlabel("time step (pixel index, row by row; grey lines = new row)")
    ax_pix.set_ylabel("pixel intensity")
    ax_pix.set_title("Pixel by pixel: 784 steps of one value")
    fig.tight_layout()
    return fig
