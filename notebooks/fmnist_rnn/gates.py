"""Looking inside an LSTM: the cell diagram, the gates, the states, the gradient.

The plotting functions take the dictionaries of :func:`fmnist_rnn.cells.lstm_forward`
(one entry per gate and state, shape (N, T, units)) and return the matplotlib
figure they draw, so that a notebook cell stays one call long.
:func:`lstm_cell` builds the Keras cells whose gradients chapter 3 measures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .cells import sigmoid

__all__ = [
    "GATE_LABELS",
    "busiest_units",
    "draw_lstm_cell",
    "lstm_cell",
    "plot_gate_heatmaps",
    "plot_squashing",
    "plot_states",
    "sort_units",
]

#: How each gate reads, for titles and colour bars.
GATE_LABELS: dict[str, str] = {
    "f": "forget gate $f_t$ (share of $c_{t-1}$ kept)",
    "i": "input gate $i_t$ (share of $g_t$ written)",
    "g": "candidate $g_t$ (what would be written)",
    "o": "output gate $o_t$ (share of $\\tanh c_t$ shown)",
}
_SIGMOID_COLOUR, _TANH_COLOUR = "#f4a259", "#8cb369"


def _arrow(ax, start, end, **kw) -> None:
    style = {"arrowstyle": "-|>", "mutation_scale": 12, "lw": 1.4, "color": "0.2", **kw}
    ax.add_patch(FancyArrowPatch(start, end, shrinkA=0, shrinkB=0, **style))


def _node(ax, xy, text, colour="white", box=False) -> None:
    if box:
        x, y = xy
        patch = FancyBboxPatch((x - 0.42, y - 0.3), 0.84, 0.6, boxstyle="round,pad=0.04")
    else:
        patch = Circle(xy, 0.26)
    patch.set(facecolor=colour, edgecolor="0.2", lw=1.3, zorder=3)
    ax.add_patch(patch)
    ax.text(*xy, text, ha="center", va="center", fontsize=11, zorder=4)


def draw_lstm_cell() -> Figure:
    """Draw one LSTM step: the cell-state path on top, the four gates below."""
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.add_patch(
        FancyBboxPatch((1.2, 0.6), 7.9, 4.5, boxstyle="round,pad=0.1", fc="#f3f6fb", ec="0.6")
    )
    top, gates_y, bus_y = 4.4, 2.4, 1.3
    # the cell-state path: c_{t-1} -> (x f) -> (+ i*g) -> c_t
    _arrow(ax, (0.2, top), (2.74, top))
    _arrow(ax, (3.26, top), (5.24, top))
    _arrow(ax, (5.76, top), (9.9, top))
    _node(ax, (3.0, top), "×")
    _node(ax, (5.5, top), "+")
    ax.text(0.2, top + 0.2, "$c_{t-1}$", fontsize=13)
    ax.text(9.4, top + 0.2, "$c_t$", fontsize=13)
    # inputs: h_{t-1} and x_t join on a bus that feeds every gate
    ax.plot([0.2, 7.0], [bus_y, bus_y], color="0.2", lw=1.4)
    ax.plot([1.9, 1.9], [0.0, bus_y], color="0.2", lw=1.4)
    ax.text(0.2, bus_y - 0.35, "$h_{t-1}$", fontsize=13)
    ax.text(2.05, 0.05, "$x_t$", fontsize=13)
    gates = {"f": (3.0, "σ"), "i": (4.3, "σ"), "g": (5.5, "tanh"), "o": (7.0, "σ")}
    for name, (x, text) in gates.items():
        _arrow(ax, (x, bus_y), (x, gates_y - 0.34))
        colour = _TANH_COLOUR if text == "tanh" else _SIGMOID_COLOUR
        _node(ax, (x, gates_y), text, colour, box=True)
        ax.text(x + 0.12, gates_y + 0.42, f"${name}_t$", fontsize=12)
    _arrow(ax, (3.0, gates_y + 0.3), (3.0, top - 0.26))  # f scales c_{t-1}
    _node(ax, (5.5, 3.4), "×")  # i * g
    ax.plot([4.3, 4.3], [gates_y + 0.3, 3.4], color="0.2", lw=1.4)
    _arrow(ax, (4.3, 3.4), (5.24, 3.4))
    _arrow(ax, (5.5, gates_y + 0.3), (5.5, 3.14))
    _arrow(ax, (5.5, 3.66), (5.5, top - 0.26))
    # output: h_t = o * tanh(c_t)
    _node(ax, (8.2, 3.4), "tanh", _TANH_COLOUR, box=True)
    _arrow(ax, (8.2, top), (8.2, 3.7))
    _node(ax, (8.2, gates_y), "×")
    _arrow(ax, (8.2, 3.1), (8.2, gates_y + 0.26))
    _arrow(ax, (7.42, gates_y), (7.94, gates_y))
    _arrow(ax, (8.2, gates_y - 0.26), (8.2, 0.9))
    _arrow(ax, (8.2, 0.9), (9.9, 0.9))
    ax.text(9.4, 0.5, "$h_t$", fontsize=13)
    ax.text(1.4, 4.75, "cell state: an additive path through time", fontsize=10, color="0.35")
    ax.set(xlim=(0, 10), ylim=(-0.1, 5.4), aspect="equal", title="One LSTM step")
    ax.axis("off")
    return fig


def plot_squashing() -> Figure:
    """Sigmoid (a gate: how much to let through) next to tanh (a value: what to write)."""
    z = np.linspace(-6, 6, 241)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    gate_marks = {0: "0: let nothing through", 1: "1: let everything through"}
    value_marks = {-1: "-1: push the memory down", 1: "+1: push the memory up"}
    panels = [
        (sigmoid(z), _SIGMOID_COLOUR, "sigmoid σ(z): a gate, how much to let through", gate_marks),
        (np.tanh(z), _TANH_COLOUR, "tanh(z): a value, what to write", value_marks),
    ]
    for ax, (values, colour, title, marks) in zip(axes, panels, strict=True):
        ax.plot(z, values, color=colour, lw=2.5)
        for level, text in marks.items():  # each label where the curve is far from its line
            ax.axhline(level, color="0.6", lw=0.8, ls="--")
            x, align = (-5.8, "left") if level > 0 else (5.8, "right")
            ax.text(x, level + 0.04, text, fontsize=9, ha=align, va="bottom", color="0.3")
        ax.axvline(0, color="0.8", lw=0.8)
        ax.set(title=title, xlabel="pre-activation z", ylabel="output")
    forget_start = float(sigmoid(1.0))
    axes[0].plot([1.0], [forget_start], "o", color="0.2")
    axes[0].annotate(
        f"σ(1) = {forget_start:.2f}: the forget gate\nat Keras's initial bias of 1",
        (1.0, forget_start),
        xytext=(1.8, 0.35),
        fontsize=9,
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
    axes[0].set_ylim(-0.1, 1.2)
    axes[1].set_ylim(-1.3, 1.3)
    fig.tight_layout()
    return fig


def lstm_cell(units: int, input_width: int, forget_bias: float = 1.0, dtype: str = "float32"):
    """A built ``keras.layers.LSTMCell`` with Keras's initialisation but a chosen forget bias.

    Keras sets the forget-gate bias to 1 (``unit_forget_bias=True``) and every
    other bias to 0; here the forget block (the second of the four) is set to
    ``forget_bias``, which makes the forget gate start near ``sigmoid(forget_bias)``.
    ``dtype="float64"`` keeps gradients that leave float32's range measurable.
    """
    import keras  # imported lazily: the figures do not need TensorFlow

    from .gradients import set_forget_bias

    cell = keras.layers.LSTMCell(units, dtype=dtype)
    cell.build((None, input_width))
    set_forget_bias(cell, forget_bias)
    return cell


def sort_units(trace: Mapping[str, np.ndarray], key: str = "f") -> dict[str, np.ndarray]:
    """The same trace with the units renumbered by decreasing mean of ``trace[key]``.

    With the default, unit 0 is the unit whose forget gate is most open on
    average (over the batch and the time steps): the one that keeps most.
    """
    order = np.argsort(np.asarray(trace[key]).mean(axis=(0, 1)))[::-1]
    return {name: np.asarray(values)[..., order] for name, values in trace.items()}


def busiest_units(trace: Mapping[str, np.ndarray], count: int) -> np.ndarray:
    """Indices of the ``count`` units whose cell state moves most (range over time and batch)."""
    c = np.asarray(trace["c"])
    spread = c.max(axis=(0, 1)) - c.min(axis=(0, 1))
    return np.argsort(spread)[::-1][:count]


def plot_gate_heatmaps(
    images: np.ndarray, trace: Mapping[str, np.ndarray], titles: Sequence[str]
) -> Figure:
    """The image and its four gate activations over (unit x time step), one column per image.

    The network reads the image column by column, so time step ``t`` sits under
    pixel column ``t``. Rows of a heatmap are the units, in the order of the
    trace (see :func:`sort_units`).
    """
    gates = ("f", "i", "o", "g")
    n = len(images)
    fig, axes = plt.subplots(
        len(gates) + 1, n, figsize=(5.2 * n, 13), squeeze=False, constrained_layout=True
    )
    for k in range(n):
        axes[0, k].imshow(images[k], cmap="gray_r", aspect="auto")
        axes[0, k].set(title=titles[k], ylabel="pixel row")
        for row, gate in enumerate(gates, start=1):
            ax = axes[row, k]
            limits = (-1, 1, "RdBu_r") if gate == "g" else (0, 1, "viridis")
            shown = ax.imshow(
                trace[gate][k].T,
                vmin=limits[0],
                vmax=limits[1],
                cmap=limits[2],
                aspect="auto",
                interpolation="nearest",
            )
            ax.set(title=GATE_LABELS[gate], ylabel="unit")
            if k == n - 1:
                fig.colorbar(shown, ax=axes[row, :], label=f"${gate}_t$", shrink=0.9)
        axes[-1, k].set_xlabel("time step t = pixel column read")
    fig.suptitle("The gates while the image is read, column by column", fontsize=14)
    return fig


def plot_states(
    trace: Mapping[str, np.ndarray], titles: Sequence[str], units: Sequence[int]
) -> Figure:
    """Cell-state trajectories of a few units (top) and the hidden state (bottom), per image."""
    n = len(titles)
    fig, axes = plt.subplots(
        2, n, figsize=(5.2 * n, 7), squeeze=False, sharey="row", constrained_layout=True
    )
    colours = plt.cm.tab10(np.arange(len(units)) % 10)
    for k in range(n):
        ax = axes[0, k]
        for unit, colour in zip(units, colours, strict=True):
            ax.plot(trace["c"][k, :, unit], color=colour, lw=1.8, label=f"unit {unit}")
        ax.axhspan(-1, 1, color="0.92", zorder=0, label="range of $h_t$, $\\tanh c_t$")
        ax.set(title=f"{titles[k]}: cell state $c_t$", xlabel="time step t", ylabel="$c_t$")
        shown = axes[1, k].imshow(trace["h"][k].T, vmin=-1, vmax=1, cmap="RdBu_r", aspect="auto")
        axes[1, k].set(
            title=f"{titles[k]}: hidden state $h_t$",
            xlabel="time step t = pixel column read",
            ylabel="unit",
        )
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncol=6)
    fig.colorbar(shown, ax=axes[1, :], label="$h_t$", shrink=0.9)
    return fig
