"""Trained models on disk: ``<name>.weights.h5`` and a JSON record of how they were made.

The weights are those of the plain, uncompiled model of the recorded ``builder`` (a name in
:data:`fmnist_rnn.models.BUILDERS`); the record holds it, its ``builder_kwargs``, the
``history``, the ``test_accuracy`` and the :func:`provenance`. A file that does not fit
its builder raises :class:`CheckpointError` instead of a deep Keras traceback.
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
    "git_commit",
    "git_dirty",
    "load_checkpoint",
    "load_record",
    "provenance",
    "save_checkpoint",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
REPO = Path(__file__).resolve().parents[2]


class CheckpointError(RuntimeError):
    """A checkpoint is missing, malformed, or does not match its recorded builder."""


def checkpoint_paths(name: str, directory: Path | None = None) -> tuple[Path, Path]:
    """The ``(weights, record)`` paths of checkpoint ``name``."""
    directory = Path(directory or CHECKPOINT_DIR)
    return directory / f"{name}.weights.h5", directory / f"{name}.json"


def _git(*args: str, root: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def git_commit(root: Path = REPO) -> str:
    """The exact HEAD commit of the repository, or ``"unknown"`` outside a git checkout."""
    try:
        return _git("rev-parse", "HEAD", root=root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty(root: Path = REPO) -> bool:
    """True when tracked files other than the checkpoints (outputs) differ from HEAD."""
    outputs = f":(exclude){CHECKPOINT_DIR.relative_to(REPO).as_posix()}"
    try:
        return bool(
            _git("status", "--porcelain", "--untracked-files=no", "--", ".", outputs, root=root)
        )
    except (OSError, subprocess.CalledProcessError):
        return True


def _cpu() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def provenance(
    command: str | None = None,
    wall_time_s: float | None = None,
    commit: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything needed to judge a result later: what ran, on what, with which data.

    ``command`` defaults to this process's; ``commit`` should be taken with
    :func:`git_commit` when a long run *starts* (default: the commit now); ``extra`` adds
    fields. ``git_dirty`` says whether tracked files differed from that commit.
    """
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "git_commit": commit or git_commit(),
        "git_dirty": git_dirty(),
        "data_md5": dict(MD5SUMS),  # every load verifies the files against these
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "gpus": [gpu.name for gpu in tf.config.list_physical_devices("GPU")],
        "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 1),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }


def _builder(name: str, get_builder: Callable[[str], Callable[..., Any]] | None):
    if get_builder is None:
        from .models import get_builder
    return get_builder(name)


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
    get_builder: Callable[[str], Callable[..., Any]] | None = None,
) -> Path:
    """Write ``<name>.weights.h5`` and ``<name>.json``; return the JSON path.

    ``model``'s weights (any implementation of the same function) are copied into a fresh,
    uncompiled model of ``builder``, whose weights are written: what :func:`load_checkpoint`
    rebuilds.
    """
    weights_path, record_path = checkpoint_paths(name, directory)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    plain = _builder(builder, get_builder)(**builder_kwargs)
    plain.set_weights(model.get_weights())
    plain.save_weights(weights_path)
    record = {
        "name": name,
        "builder": builder,
        "builder_kwargs": builder_kwargs,
        "parameters": int(plain.count_params()),
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
            f"no checkpoint record {record_path}; train it with `python -m fmnist_rnn.train {name}`"
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
        CheckpointError: missing files, or weights that do not fit the builder's model.
    """
    record = load_record(name, directory)
    weights_path, _ = checkpoint_paths(name, directory)
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint weights {weights_path} are missing")
    built = f"{record['builder']}(**{record['builder_kwargs']})"
    try:
        model = _builder(record["builder"], get_builder)(**record["builder_kwargs"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {name!r}: {built} fails: {error}") from error
    if "parameters" in record and model.count_params() != record["parameters"]:
        raise CheckpointError(
            f"checkpoint {name!r} was saved from a model with {record['parameters']:,} "
            f"parameters, but {built} builds {model.count_params():,}; "
            "retrain it or restore the builder"
        )
    try:
        model.load_weights(weights_path)
    except (ValueError, KeyError, OSError) as error:
        raise CheckpointError(
            f"the weights in {weights_path} do not match the model built by {built}: {error}"
        ) from error
    return model, record
