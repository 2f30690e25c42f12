"""Chapter 4's trained models: obtain them (checkpoint or training), tabulate, draw.

* :func:`obtain`: the model called ``name``, from its committed checkpoint in
  the full profile, trained now in the smoke profile or with ``FMNIST_RETRAIN=1``;
* :data:`PUBLISHED`: numbers from the Fashion-MNIST benchmark table, which are
  self-reported by their submitters;
* figures: :func:`draw_two_layer_lstm`, :func:`plot_learning_curves`,
  :func:`plot_prefix_accuracy`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from . import checkpoints, evaluation, train
from .data import CLASS_NAMES
from .plots import grouped_bars
from .profiles import Profile

__all__ = [
    "PUBLISHED",
    "checkpoint_dir",
    "draw_two_layer_lstm",
    "obtain",
    "plot_learning_curves",
    "plot_per_class",
    "plot_prefix_accuracy",
    "retrain_requested",
]

ENV_RETRAIN = "FMNIST_RETRAIN"
ENV_CHECKPOINT_DIR = "FMNIST_CHECKPOINT_DIR"

#: (model, test accuracy) from the benchmark table of the Fashion-MNIST
#: repository (zalandoresearch/fashion-mnist); self-reported by the submitters.
PUBLISHED: tuple[tuple[str, float], ...] = (
    ("GRU + SVM", 0.888),
    ("GRU + SVM with dropout", 0.897),
    ("2 conv + pooling (TensorFlow tutorial)", 0.916),
    ("Human performance (crowd-sourced)", 0.835),
)


def checkpoint_dir() -> Path:
    """Where the chapter looks for checkpoints: ``FMNIST_CHECKPOINT_DIR`` or the committed folder.

    The variable lets a candidate set of checkpoints be reviewed before it is committed.
    """
    return Path(os.environ.get(ENV_CHECKPOINT_DIR) or checkpoints.CHECKPOINT_DIR)


def retrain_requested() -> bool:
    """True when ``FMNIST_RETRAIN=1``: train from scratch instead of loading."""
    return os.environ.get(ENV_RETRAIN, "").strip() not in ("", "0")


def obtain(name: str, profile: Profile, retrain: bool | None = None) -> tuple[Any, dict, str]:
    """The model ``name`` and its record, and where they came from.

    Full profile: the committed checkpoint; with ``retrain`` (``FMNIST_RETRAIN=1``)
    the model is trained now by its recipe instead, as long as that takes.
    Smoke profile: always a brief training (in a temporary directory, removed after).

    Raises:
        CheckpointError: full profile, no checkpoint and no ``retrain``: a book
            build should not silently start hours of training.

    Returns:
        ``(model, record, source)``; ``source`` is ``"checkpoint"`` or ``"trained now"``.
    """
    retrain = retrain_requested() if retrain is None else retrain
    exists = checkpoints.checkpoint_paths(name, checkpoint_dir())[1].is_file()
    if not profile.is_smoke and not retrain:
        if not exists:
            raise checkpoints.CheckpointError(
                f"no checkpoint {name!r} in {checkpoint_dir()}: run `python -m fmnist_rnn.train "
                f"{name}` from notebooks/ and commit its two files, or set {ENV_RETRAIN}=1 "
                "to train it inside this build (hours on a CPU)"
            )
        model, record = checkpoints.load_checkpoint(name, checkpoint_dir())
        return model, record, "checkpoint"
    command = f"fmnist_rnn.results.obtain({name!r}) in a notebook ({profile.name} profile)"
    with tempfile.TemporaryDirectory(prefix=f"fmnist_{name}_") as directory:
        train.train(
            name,
            retrain=True,
            checkpoint_dir=Path(directory),
            runs_dir=Path(directory),
            verbose=2,
            command=command,
            profile=profile,
        )
        model, record = checkpoints.load_checkpoint(name, directory=Path(directory))
    return model, record, "trained now"


def plot_learning_curves(history: dict[str, list[float]], title: str = "") -> Figure:
    """Loss and accuracy per epoch, training and validation."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history[metric], marker=".", label="training")
        ax.plot(epochs, history[f"val_{metric}"], marker=".", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_per_class(y_true: np.ndarray, predictions: dict[str, np.ndarray]) -> Figure:
    """Per-class accuracy of several models side by side, one group of bars per class."""
    fig, ax = plt.subplots(figsize=(11, 3.8))
    series = {
        f"{name} (overall {np.mean(predicted == y_true):.3f})": evaluation.per_class_accuracy(
            y_true, predicted
        )
        for name, predicted in predictions.items()
    }
    grouped_bars(ax, series)
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=20)
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel("accuracy on the class")
    ax.set_title("Per-class test accuracy")
    ax.legend(loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_prefix_accuracy(table: np.ndarray) -> Figure:
    """Accuracy after k column vectors: all images (left), each class (right).

    ``table`` is :func:`fmnist_rnn.evaluation.accuracy_by_prefix`'s ``(28, 11)`` array.
    """
    k = np.arange(1, len(table) + 1)
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1.35]}
    )
    left.plot(k, table[:, -1], marker=".", color="black")
    left.axhline(0.1, color="0.6", ls=":", label="chance")
    left.set_xlabel("k: column vectors read by the second LSTM")
    left.set_ylabel("test accuracy")
    left.set_ylim(0, 1)
    left.grid(alpha=0.3)
    left.legend()
    image = right.imshow(table[:, :-1].T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    right.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    right.set_xticks(range(0, len(k), 3), k[::3])
    right.set_xlabel("k")
    right.set_title("accuracy per class after k column vectors")
    fig.colorbar(image, ax=right, fraction=0.04)
    fig.tight_layout()
    return fig


def _box(ax, xy, size, text, color) -> None:
    ax.add_patch(Rectangle(xy, *size, fc=color, ec="black", lw=1))
    ax.text(xy[0] + size[0] / 2, xy[1] + size[1] / 2, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, lw=1))


def draw_two_layer_lstm(image: np.ndarray) -> Figure:
    """The model as a figure: columns -> shared pixel LSTM -> column vectors -> image LSTM."""
    fig, ax = plt.subplots(figsize=(12, 4.2))
    ax.imshow(image, cmap="gray_r", extent=(0, 2.8, 0, 2.8))
    for j, x in enumerate((0.05, 0.15, 2.75)):
        ax.add_patch(Rectangle((x - 0.05, 0), 0.1, 2.8, fill=False, ec=f"C{j}", lw=2))
    ax.text(1.4, -0.3, "image: 28 columns of 28 pixels", ha="center", fontsize=9)
    for y, label in ((2.2, "column 1"), (1.3, "column 2"), (0.2, "column 28")):
        _box(ax, (3.6, y), (1.6, 0.5), f"pixel LSTM\n{label}: 28 steps", "#dde8f7")
        _arrow(ax, (2.9, 1.4), (3.6, y + 0.25))
        _box(ax, (5.6, y), (0.9, 0.5), f"$h^{{(1)}}_{{{label.split()[1]}}}$", "#f7e6cc")
        _arrow(ax, (5.2, y + 0.25), (5.6, y + 0.25))
    ax.text(4.4, 0.95, "⋮ same weights ⋮", ha="center", fontsize=9)
    for i, y in enumerate((2.2, 1.3, 0.2)):
        _box(ax, (7.1, y), (1.1, 0.5), "image LSTM", "#d9f0d9")
        _arrow(ax, (6.5, y + 0.25), (7.1, y + 0.25))
        if i < 2:
            _arrow(ax, (7.65, y), (7.65, (1.3, 0.2)[i] + 0.5))
    _box(ax, (8.8, 0.2), (1.3, 0.5), "Dense(10)\nsoftmax", "#f2d4d4")
    _arrow(ax, (8.2, 0.45), (8.8, 0.45))
    ax.text(4.4, 2.95, "level 1: each column → a vector", ha="center", fontsize=10)
    ax.text(7.65, 2.95, "level 2: columns in order → image", ha="center", fontsize=10)
    ax.set_xlim(-0.1, 10.3)
    ax.set_ylim(-0.5, 3.2)
    ax.axis("off")
    fig.tight_layout()
    return fig
