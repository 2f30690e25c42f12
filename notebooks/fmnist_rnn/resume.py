"""Resumable training runs: state that must survive an interrupted ``model.fit``.

``keras.callbacks.BackupAndRestore`` restores the weights, the optimizer and the
epoch counter of a killed run. What it does not keep is kept here, in the run's
folder, so that ``python -m fmnist_rnn.train NAME`` can simply be run again:

* :class:`BestWeights`: the best-validation-accuracy weights and their epoch;
* :class:`WallClock`: the training time summed over all attempts;
* :func:`read_history`: the full per-epoch history from ``keras.callbacks.CSVLogger``
  (``append=True``), where ``History`` would hold only the last attempt's epochs;
* :func:`run_start`: the commit and command of the attempt that started the run,
  which a resumed run's own provenance would not show.
"""

from __future__ import annotations

import csv
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import keras

__all__ = ["BestWeights", "WallClock", "read_history", "run_start"]


class BestWeights(keras.callbacks.Callback):
    """Keep the best-validation-accuracy weights of ``target`` on disk, across resumed runs."""

    def __init__(self, target: keras.Model, directory: Path) -> None:
        super().__init__()
        self.target = target
        self.weights_path = directory / "best.weights.h5"
        self.state_path = directory / "best.json"
        self.best = -math.inf
        if self.state_path.is_file() and self.weights_path.is_file():
            self.best = json.loads(self.state_path.read_text())["val_accuracy"]

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Save the weights when validation accuracy improved."""
        value = float((logs or {}).get("val_accuracy", -math.inf))
        if value > self.best:
            self.best = value
            self.target.save_weights(self.weights_path)
            self.state_path.write_text(json.dumps({"epoch": epoch, "val_accuracy": value}))

    def restore(self) -> int:
        """Load the best weights into ``target``; return their (0-based) epoch."""
        self.target.load_weights(self.weights_path)
        return int(json.loads(self.state_path.read_text())["epoch"])


class WallClock(keras.callbacks.Callback):
    """Training wall time, summed over interrupted and resumed runs (saved every epoch)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.previous = json.loads(path.read_text())["wall_time_s"] if path.is_file() else 0.0
        self.start = time.perf_counter()

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Start the clock."""
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Save the time so far, so that an interruption loses at most one epoch of it."""
        self.path.write_text(json.dumps({"wall_time_s": self.total()}))

    def total(self) -> float:
        """Seconds spent training so far, earlier runs included."""
        return self.previous + time.perf_counter() - self.start


def read_history(path: Path) -> dict[str, list[float]]:
    """The per-epoch history a ``CSVLogger`` wrote (one row per finished epoch)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in rows[0] if k != "epoch"] if rows else []
    return {k: [float(row[k]) for row in rows] for k in keys}


def run_start(run_dir: Path, git_commit: str, command: str) -> dict[str, str]:
    """How the run in ``run_dir`` started: recorded by its first attempt, read by the others.

    A run whose folder already holds a history but no start record (it began before
    start records existed) is reported as unknown rather than as starting now.
    """
    path = run_dir / "start.json"
    if path.is_file():
        return json.loads(path.read_text())
    if (run_dir / "history.csv").is_file():
        return {"git_commit": "unknown", "command": "unknown", "date": "unknown"}
    start = {
        "git_commit": git_commit,
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(start, indent=1))
    return start
