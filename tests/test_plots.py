"""fmnist_rnn.plots: the shared grouped-bar layout and the figures built on it."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fmnist_rnn import plots, results

matplotlib.use("Agg")


@pytest.mark.parametrize("horizontal", [False, True])
def test_grouped_bars_are_centred_on_their_positions(horizontal) -> None:
    fig, ax = plt.subplots()
    series = {"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}
    containers = plots.grouped_bars(ax, series, horizontal=horizontal)
    assert [c.get_label() for c in containers] == ["a", "b"]
    for index in range(3):
        bars = [c[index] for c in containers]
        if horizontal:
            centres = [b.get_y() + b.get_height() / 2 for b in bars]
            sizes = [b.get_width() for b in bars]
        else:
            centres = [b.get_x() + b.get_width() / 2 for b in bars]
            sizes = [b.get_height() for b in bars]
        assert np.mean(centres) == pytest.approx(index)  # the group straddles its position
        assert centres[0] < centres[1]  # in the order of the series
        assert sizes == [series["a"][index], series["b"][index]]
    plt.close(fig)


def test_per_class_bars_are_the_recall_of_each_class() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9])
    perfect = y_true.copy()
    half = y_true.copy()
    half[[0, 2]] = 9  # one of the two images of class 0 and of class 1 is missed
    fig = results.plot_per_class(y_true, {"perfect": perfect, "half": half})
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights[:10] == [1.0] * 10
    assert heights[10:12] == [0.5, 0.5] and heights[12:] == [1.0] * 8
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["perfect (overall 1.000)", f"half (overall {11 / 13:.3f})"]
    assert fig.axes[0].get_ylim()[0] == 0.5  # truncated, and the label says so
    assert "starts at 0.5" in fig.axes[0].get_ylabel()
    plt.close(fig)
    fig = results.plot_per_class(y_true, {"poor": np.zeros_like(y_true)})
    assert fig.axes[0].get_ylim()[0] == 0.0  # no bar falls below the axis
    plt.close(fig)
