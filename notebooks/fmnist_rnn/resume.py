"""Resumable training runs: what Keras's ``BackupAndRestore`` does not keep, in the run's folder.

The training time summed over all attempts (:func:`wall_clock`), the full ``CSVLogger``
history (:func:`read_history`), the commit and command of the first attempt
(:func:`run_start`), and one folder per run, named by a hash of everything that determines
it, so that no run resumes another's backup (:func:`run_folder`, :func:`claim_run_folder`).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DRAWS",
    "RunError",
    "claim_run_folder",
    "read_history",
    "run_folder",
    "run_start",
    "wall_clock",
]


#: How a run draws its randomness; part of every run's identity, so that a run is never
#: resumed under another procedure. 2: each epoch's order and the random layers' states are
#: drawn from (seed, epoch) (``training.EpochShuffle``, ``EpochSeeds``, 9da3330), the second
#: procedure after Keras's own shuffle and random layers; run folders made before this
#: constant carry no number.
DRAWS = 2


class RunError(RuntimeError):
    """A run cannot start: its folder holds another run, or the tree is not committed."""


def wall_clock(path: Path) -> tuple[Any, Callable[[], float]]:
    """A callback saving the training time after every epoch, and a function returning it
    (both include the run's earlier attempts)."""
    import keras  # imported lazily: the training command answers --help without TensorFlow

    previous = json.loads(path.read_text())["wall_time_s"] if path.is_file() else 0.0
    start = time.perf_counter()

    def total() -> float:
        return previous + time.perf_counter() - start

    def save(epoch: int, logs: dict | None = None) -> None:
        path.write_text(json.dumps({"wall_time_s": total()}))

    return keras.callbacks.LambdaCallback(on_epoch_end=save), total


def read_history(path: Path) -> dict[str, list[float]]:
    """The per-epoch history a ``CSVLogger`` wrote (one row per finished epoch); {} if none."""
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [k for k in rows[0] if k != "epoch"] if rows else []
    return {k: [float(row[k]) for row in rows] for k in keys}


def run_start(run_dir: Path, git_commit: str, command: str) -> dict[str, str]:
    """How the run in ``run_dir`` started, as its first attempt recorded it ("unknown" for a
    run that began before start records existed)."""
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


def run_folder(
    name: str, recipe: Any, profile: Any, epochs: int, implementation: str, runs_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """The run's folder and the identity stored in it: everything that determines the run."""
    identity = {
        "name": name,
        "recipe": dataclasses.asdict(recipe),
        "epochs": epochs,
        "profile": dataclasses.asdict(profile),
        "implementation": implementation,
        "draws": DRAWS,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
    return Path(runs_dir) / f"{name}-{profile.name}-{implementation}-{digest}", identity


def claim_run_folder(run_dir: Path, identity: dict[str, Any], retrain: bool) -> None:
    """Create ``run_dir`` for ``identity``, or check that the run it holds is the same one."""
    if retrain and run_dir.exists():
        shutil.rmtree(run_dir)
    stored = run_dir / "recipe.json"
    if stored.is_file():
        if json.loads(stored.read_text()) != identity:
            raise RunError(
                f"{run_dir} holds a run of another recipe (see its recipe.json); it is not "
                "resumed. Start again with --retrain, or choose another --runs-dir."
            )
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(f"{run_dir} holds files but no recipe.json; remove it or use --retrain")
    run_dir.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(identity, indent=1, sort_keys=True) + "\n")
