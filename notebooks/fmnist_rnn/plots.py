"""Figures that several chapters share: a grid of images, grouped bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

__all__ = ["grouped_bars", "show_images"]


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


def grouped_bars(
    ax: Axes, series: Mapping[str, Sequence[float]], horizontal: bool = False
) -> list[BarContainer]:
    """One group of bars per position ``0..n-1``, one bar per series (a legend label).

    The groups are centred on the integer positions: ``ax.set_xticks(range(n), names)``.
    """
    width = 0.8 / len(series)
    draw = ax.barh if horizontal else ax.bar
    offsets = (np.arange(len(series)) - (len(series) - 1) / 2) * width
    return [
        draw(np.arange(len(values)) + offset, values, width, label=label)
        for offset, (label, values) in zip(offsets, series.items(), strict=True)
    ]
