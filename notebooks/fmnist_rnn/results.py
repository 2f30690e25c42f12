"""The trained models of chapters 4 and 5: :func:`obtain` them, compare, draw.

:func:`obtain` loads the committed checkpoint in the full profile and trains the model
now in the smoke profile or with ``FMNIST_RETRAIN=1``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from . import checkpoints, evaluation, train
from .data import CLASS_NAMES
from .plots import grouped_bars
from .profiles import Profile

__all__ = [
    "PUBLISHED",
    "checkpoint_dir",
    "obtain",
    "plot_learning_curves",
    "plot_per_class",
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
    """``FMNIST_CHECKPOINT_DIR`` (to review candidate checkpoints) or the committed folder."""
    return Path(os.environ.get(ENV_CHECKPOINT_DIR) or checkpoints.CHECKPOINT_DIR)


def retrain_requested() -> bool:
    """True when ``FMNIST_RETRAIN=1``: train from scratch instead of loading."""
    return os.environ.get(ENV_RETRAIN, "").strip() not in ("", "0")


def obtain(name: str, profile: Profile, retrain: bool | None = None) -> tuple[Any, dict, str]:
    """``(model, record, source)`` of model ``name``; ``source``: checkpoint or trained now.

    Full profile: the committed checkpoint, or with ``retrain`` (``FMNIST_RETRAIN=1``) a
    training by its recipe, however long that takes. Smoke profile: always a brief
    training in a temporary directory.

    Raises:
        CheckpointError: full profile, no checkpoint and no ``retrain`` (a book build
            should not silently start hours of training).
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
    start = min(0.5, np.floor(np.nanmin(list(series.values())) * 10) / 10)  # not hiding a bar
    ax.set_ylim(start, 1.0)
    ax.set_ylabel(f"accuracy on the class\n(the axis starts at {start:.1f})")
    ax.set_title("Per-class test accuracy")
    ax.legend(loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
