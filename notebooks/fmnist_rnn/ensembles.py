"""Ensembles (chapter 5): models answer together, ``p(y | x) = mean_m p_m(y | x)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .plots import grouped_bars

__all__ = ["average_probabilities", "plot_ensembles"]


def average_probabilities(probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of the members' ``(N, classes)`` probabilities (a confident member outweighs
    an unsure one, unlike a vote).

    Raises:
        ValueError: no members, or outputs that differ in shape or are not 2-D.
    """
    if len(probabilities) == 0:
        raise ValueError("an ensemble needs at least one member")
    shapes = sorted({np.shape(p) for p in probabilities})
    if len(shapes) != 1 or len(shapes[0]) != 2:
        raise ValueError(f"members must all give (N, classes) probabilities; got shapes {shapes}")
    return np.mean(np.stack(probabilities), axis=0)


def plot_ensembles(table: Mapping[str, Mapping[str, float]]) -> Figure:
    """Horizontal bars: the accuracy of each model and ensemble on each part."""
    names = list(table)
    parts = list(next(iter(table.values())))
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(names) + 1.4))
    series = {part: [table[name][part] for name in names] for part in parts}
    for bars in grouped_bars(ax, series, horizontal=True):
        ax.bar_label(bars, fmt="%.4f", padding=3, fontsize=8)
    values = [v for row in table.values() for v in row.values()]
    start = max(0.0, min(values) - 0.02)  # the differences are small: a truncated axis
    ax.set_xlim(start, min(1.0, max(values) + 0.02))
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"accuracy (the axis starts at {start:.2f})")
    ax.set_title("Single models and averaged ensembles")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
