"""Repeated runs: one recipe trained with several seeds, and comparisons across them.

The recipe trials (``notebooks/checkpoints/trials/<recipe>-seed<k>/``) hold some recipes
trained more than once, with different seeds::

    runs = seeds.seed_runs("two_layer_lstm_erase_xl_wd")    # sorted by seed
    [run.test_accuracy for run in runs]
    seeds.chosen_run(runs)                   # the run a committed checkpoint copies
    runs[0].training_log().seconds           # each epoch's seconds, from its train.log
    seeds.across_seeds(columns_accuracies, rows_accuracies)  # Welch's t-test over seeds

A single run says how one trained network does on the test images; only repeated runs
say how much that number moves when the training is done again (chapter 5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import t as student_t
from scipy.stats import ttest_ind_from_stats

from .checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, load_record

__all__ = [
    "TRIALS_DIR",
    "SeedRun",
    "TrainingLog",
    "across_seeds",
    "chosen_run",
    "new_run_interval",
    "seed_runs",
    "trial_recipes",
]

TRIALS_DIR = CHECKPOINT_DIR / "trials"


@dataclass(frozen=True, eq=False)
class TrainingLog:
    """What a run's ``train.log`` (the training command's own output) says about its time."""

    seconds: np.ndarray
    """The seconds of each epoch, epoch 1 first; where a resumed run repeated an epoch that
    an interruption cut short, the repeat (the interrupted try never finished)."""
    starts: int
    """How often the command started: 1 for a run that was never interrupted."""

    def slow_epochs(self, factor: float = 1.2) -> np.ndarray:
        """The epochs (counted from 1) that took more than ``factor`` times the median epoch:
        those that shared the machine with other work."""
        return np.flatnonzero(self.seconds > factor * np.median(self.seconds)) + 1


# The training command prints one line when it starts (its fast-path choice), then Keras
# (verbose=2) prints "Epoch k/N" and, when epoch k ends, "860/860 - 66s - 77ms/step - ...".
_START = re.compile(r"^implementation: ")
_EPOCH = re.compile(r"^Epoch (\d+)/\d+$")
_EPOCH_END = re.compile(r"^\d+/\d+ - (\d+)s - ")


@dataclass(frozen=True)
class SeedRun:
    """One finished run of ``recipe`` with ``seed``: its folder and its JSON record."""

    recipe: str
    seed: int
    folder: Path
    record: dict[str, Any]

    @property
    def best_val_accuracy(self) -> float:
        """The best validation accuracy of the run (the epoch whose weights were kept)."""
        return max(self.record["history"]["val_accuracy"])

    @property
    def test_accuracy(self) -> float:
        """The test accuracy recorded when the run ended."""
        return float(self.record["test_accuracy"])

    def load(self):
        """The trained model (plain Keras, the recorded builder) with the run's weights."""
        model, _ = load_checkpoint(self.recipe, self.folder)
        return model

    def training_log(self) -> TrainingLog:
        """Each epoch's seconds and the number of starts, read from the run's ``train.log``.

        Raises:
            CheckpointError: no ``train.log``, one that does not time every epoch of the
                record, or one that times an epoch twice within one start.
        """
        path = self.folder / "train.log"
        if not path.is_file():
            raise CheckpointError(f"{self.folder} has no train.log (the training command's output)")
        seconds: dict[int, int] = {}  # epoch -> seconds of its last try
        this_start: set[int] = set()  # the epochs timed since the last start
        starts, epoch = 0, None  # epoch: the "Epoch k/N" whose end line is still to come
        for line in path.read_text().splitlines():
            if _START.match(line):
                starts, epoch, this_start = starts + 1, None, set()
            elif match := _EPOCH.match(line):
                epoch = int(match[1])
            elif (match := _EPOCH_END.match(line)) and epoch is not None:
                if epoch in this_start:
                    raise CheckpointError(f"{path} times epoch {epoch} twice in one start")
                seconds[epoch] = int(match[1])  # a resumed epoch: its later try counts
                this_start.add(epoch)
                epoch = None  # a later "N/N - Ks" line (an evaluation) times no epoch
        expected = list(range(1, int(self.record["epochs"]) + 1))
        if sorted(seconds) != expected:
            missing = sorted(set(expected) - set(seconds))
            extra = sorted(set(seconds) - set(expected))
            raise CheckpointError(
                f"{path} times {len(seconds)} epochs; the record has {len(expected)}"
                + (f"; missing epochs {_listed(missing)}" if missing else "")
                + (f"; epochs beyond the record {_listed(extra)}" if extra else "")
                + " (the training command writes one line per epoch when its output is not a "
                "terminal: Keras's verbose=2)"
            )
        return TrainingLog(np.array([seconds[k] for k in expected]), starts)


def _listed(numbers: list[int], most: int = 5) -> str:
    """'3, 7' or '1, 2, 3, 4, 5, ... (75 in all)'."""
    head = ", ".join(map(str, numbers[:most]))
    return head if len(numbers) <= most else f"{head}, ... ({len(numbers)} in all)"


def chosen_run(runs: Sequence[SeedRun]) -> SeedRun:
    """The run a committed checkpoint copies, by the rule written down in advance:
    the highest best validation accuracy; a tie goes to the lower seed. Test accuracy plays
    no part. ``runs`` are the runs the rule compares (for example seeds 0, 1 and 2 of
    :func:`seed_runs`); the caller chooses them.

    Raises:
        ValueError: no runs, or runs of more than one recipe.
    """
    if not runs:
        raise ValueError("chosen_run needs at least one run to choose from")
    recipes = sorted({run.recipe for run in runs})
    if len(recipes) > 1:
        raise ValueError(f"chosen_run compares seeds of one recipe, got runs of {recipes}")
    return max(runs, key=lambda run: (run.best_val_accuracy, -run.seed))


def _seed_folders(directory: Path) -> list[tuple[str, int, Path]]:
    """(recipe, seed, folder) for every ``<recipe>-seed<k>`` folder under ``directory``."""
    return [
        (match[1], int(match[2]), path)
        for path in (directory.iterdir() if directory.is_dir() else [])
        if path.is_dir() and (match := re.fullmatch(r"(\w+)-seed(\d+)", path.name))
    ]


def trial_recipes(directory: Path | None = None) -> list[str]:
    """The recipes with at least one ``<recipe>-seed<k>`` folder under ``directory``
    (default :data:`TRIALS_DIR`), sorted by name."""
    return sorted({recipe for recipe, _, _ in _seed_folders(Path(directory or TRIALS_DIR))})


def seed_runs(
    recipe: str, directory: Path | None = None, missing_ok: bool = False
) -> list[SeedRun]:
    """Every ``<recipe>-seed<k>`` folder under ``directory`` (default :data:`TRIALS_DIR`).

    Returns the runs sorted by seed (none, if there are none and ``missing_ok``). Each
    folder's record must name ``recipe`` and seed ``k``, so a folder renamed by hand
    cannot pass for another run.

    Raises:
        CheckpointError: no such folder (unless ``missing_ok``), or a record that
            contradicts its folder's name.
    """
    directory = Path(directory or TRIALS_DIR)
    found = sorted((seed, path) for name, seed, path in _seed_folders(directory) if name == recipe)
    if not found and not missing_ok:
        raise CheckpointError(
            f"no run of {recipe!r} in {directory} (folders named {recipe}-seed<k>); train one "
            f"with `python -m fmnist_rnn.train {recipe} --seed K "
            f"--checkpoint-dir {directory / recipe}-seedK`"
        )
    runs = []
    for seed, folder in found:
        record = load_record(recipe, folder)
        recorded = (record.get("name"), record.get("recipe", {}).get("seed"))
        if recorded != (recipe, seed):
            raise CheckpointError(
                f"{folder} holds the record of {recorded[0]!r} with seed {recorded[1]}, "
                f"not of {recipe!r} with seed {seed}"
            )
        runs.append(SeedRun(recipe, seed, folder, record))
    return runs


def across_seeds(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Compare two recipes by one accuracy per seed each: Welch's t-test.

    Each accuracy is one run's (all on the same test images); the runs of one recipe
    differ only in their seed. The test asks whether the mean accuracies of the two
    recipes differ by more than the spread between seeds explains; it does not assume
    equal spreads. Returns the means, sample standard deviations (``ddof=1``), the
    difference ``mean_a - mean_b``, Welch's ``t``, degrees of freedom ``df`` and the
    two-sided ``p``.

    Raises:
        ValueError: fewer than two accuracies on either side, or no spread on either
            side (every run scored the same): then there is nothing to compare with.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.ndim != 1 or b.ndim != 1 or len(a) < 2 or len(b) < 2:
        raise ValueError(
            f"across_seeds needs at least two runs on each side to estimate the spread "
            f"between seeds; got {a.size} and {b.size}"
        )
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        raise ValueError(
            "across_seeds: every run on both sides has the same accuracy, so there is no "
            "spread between seeds and Welch's t is undefined"
        )
    sd_a, sd_b = float(a.std(ddof=1)), float(b.std(ddof=1))
    # From the summary statistics: scipy's ttest_ind warns when one side has no spread.
    result = ttest_ind_from_stats(a.mean(), sd_a, a.size, b.mean(), sd_b, b.size, equal_var=False)
    va, vb = sd_a**2 / a.size, sd_b**2 / b.size  # Welch-Satterthwaite degrees of freedom
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return {
        "mean_a": float(a.mean()),
        "mean_b": float(b.mean()),
        "sd_a": sd_a,
        "sd_b": sd_b,
        "diff": float(a.mean() - b.mean()),
        "t": float(result.statistic),
        "df": float(df),
        "p": float(result.pvalue),
    }


def new_run_interval(accuracies: Sequence[float], new: float, level: float = 0.95) -> dict:
    """Where one more run of the recipe behind ``accuracies`` would fall, and ``new`` against it.

    If the runs' accuracies are roughly normal, ``mean ± t * s * sqrt(1 + 1/k)`` (``t`` the
    Student quantile on ``k - 1`` degrees of freedom) is a ``level`` prediction interval for
    a new run: intervals built this way contain a new run with probability ``level``. The
    two-sided ``p`` of ``new`` is the matching test (``p < 1 - level`` exactly when ``new``
    lies outside). Returns ``low``, ``high`` (clipped to [0, 1]), ``p``, ``inside`` and
    ``spreads``, the distance of ``new`` from the mean in sample standard deviations.

    Raises:
        ValueError: fewer than two accuracies, or no spread among them.
    """
    a = np.asarray(accuracies, float)
    if a.ndim != 1:
        raise ValueError(f"new_run_interval needs one accuracy per run, got shape {a.shape}")
    if len(a) < 2:
        raise ValueError(f"new_run_interval needs at least two runs, got {a.size}")
    s = float(a.std(ddof=1))
    if s == 0:
        raise ValueError("new_run_interval: the runs tie, so there is no spread to scale by")
    k, mean = len(a), float(a.mean())
    scale = s * np.sqrt(1 + 1 / k)
    half = float(student_t.ppf(0.5 + level / 2, k - 1) * scale)
    statistic = abs(new - mean) / scale
    return {
        "low": max(0.0, mean - half),
        "high": min(1.0, mean + half),
        "p": float(2 * student_t.sf(statistic, k - 1)),
        "inside": bool(abs(new - mean) <= half),  # the same as p >= 1 - level
        "spreads": float(abs(new - mean) / s),
    }
