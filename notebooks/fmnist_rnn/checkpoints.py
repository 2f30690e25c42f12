"""Trained models on disk: weights plus a JSON record of how they were made.

A checkpoint called ``name`` is two files in ``notebooks/checkpoints/``:

* ``<name>.weights.h5``: the Keras weights;
* ``<name>.json``: the ``builder`` (a name in :data:`fmnist_rnn.models.BUILDERS`)
  and its ``builder_kwargs``, the training ``history``, the ``test_accuracy``
  measured right after training, and ``provenance``: command, git commit, data
  MD5s, library versions, CPU/GPU, wall time, date.

:func:`load_checkpoint` rebuilds the model through its recorded builder and
loads the weights; a file that does not match its builder raises
:class:`CheckpointError` instead of a deep Keras traceback.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .data import MD5SUMS

__all__ = [
    "CHECKPOINT_DIR",
    "CheckpointError",
    "checkpoint_paths",
    "cpu_model",
    "current_command",
    "git_commit",
    "load_checkpoint",
    "load_record",
    "provenance",
    "save_checkpoint",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, malformed, or does not match its recorded builder."""


def checkpoint_paths(name: str, directory: Path | None = None) -> tuple[Path, Path]:
    """The ``(weights, record)`` paths of checkpoint ``name``."""
    directory = Path(directory or CHECKPOINT_DIR)
    return directory / f"{name}.weights.h5", directory / f"{name}.json"


def cpu_model() -> str:
    """The processor's marketing name (from /proc/cpuinfo on Linux), else platform info."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def current_command() -> str:
    """This process's command line, as provenance records it."""
    return " ".join([Path(sys.executable).name, *sys.argv])


def git_commit() -> str:
    """The repository's HEAD commit, flagged when tracked files have uncommitted changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" (with uncommitted changes)" if dirty else "")


def provenance(
    command: str | None = None,
    wall_time_s: float | None = None,
    commit: str | None = None,
) -> dict[str, Any]:
    """Everything needed to judge a result later: what ran, on what, with which data.

    Args:
        command: the command that produced the result (default: this process's).
        wall_time_s: how long it took.
        commit: the commit the code was at when the run *started* (take it with
            :func:`git_commit` before a long run: the repository may move on
            while it trains); default: the commit now.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "command": command or current_command(),
        "git_commit": commit or git_commit(),
        "data_md5": dict(MD5SUMS),  # every load verifies the files against these
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 1),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(
    model,
    name: str,
    builder: str,
    builder_kwargs: dict[str, Any],
    history: dict[str, list[float]],
    test_accuracy: float,
    extra: dict[str, Any] | None = None,
    prov: dict[str, Any] | None = None,
    directory: Path | None = None,
) -> Path:
    """Write ``<name>.weights.h5`` and ``<name>.json``; return the JSON path."""
    weights_path, record_path = checkpoint_paths(name, directory)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(weights_path)
    record = {
        "name": name,
        "builder": builder,
        "builder_kwargs": builder_kwargs,
        "parameters": int(model.count_params()),
        "test_accuracy": float(test_accuracy),
        "history": {key: [float(v) for v in values] for key, values in history.items()},
        **(extra or {}),
        "provenance": prov or provenance(),
    }
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record_path


def load_record(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The JSON record of checkpoint ``name``."""
    _, record_path = checkpoint_paths(name, directory)
    if not record_path.is_file():
        raise CheckpointError(
            f"no checkpoint record {record_path}; train it with "
            f"`python -m fmnist_rnn.train {name}` (from notebooks/)"
        )
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{record_path} is not valid JSON: {error}") from error
    for key in ("builder", "builder_kwargs", "test_accuracy"):
        if key not in record:
            raise CheckpointError(f"{record_path} lacks the field {key!r}")
    return record


def load_checkpoint(
    name: str,
    directory: Path | None = None,
    get_builder: Callable[[str], Callable[..., Any]] | None = None,
):
    """Rebuild checkpoint ``name`` through its recorded builder; return ``(model, record)``.

    Raises:
        CheckpointError: the files are missing, or the weights do not fit the model
            the recorded builder makes (for example after the builder changed).
    """
    if get_builder is None:
        from .models import get_builder
    record = load_record(name, directory)
    weights_path, _ = checkpoint_paths(name, directory)
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint weights {weights_path} are missing")
    model = get_builder(record["builder"])(**record["builder_kwargs"])
    if "parameters" in record and model.count_params() != record["parameters"]:
        raise CheckpointError(
            f"checkpoint {name!r} was saved from a model with {record['parameters']:,} "
            f"parameters, but {record['builder']}(**{record['builder_kwargs']}) builds "
            f"{model.count_params():,}; retrain it or restore the builder"
        )
    try:
        model.load_weights(weights_path)
    except (ValueError, KeyError, OSError) as error:
        raise CheckpointError(
            f"the weights in {weights_path} do not match the model built by "
            f"{record['builder']}(**{record['builder_kwargs']}): {error}"
        ) from error
    return model, record
