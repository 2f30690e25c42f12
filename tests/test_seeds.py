"""Repeated runs of a recipe: finding them, checking them against their records, and
comparing two recipes over seeds (Welch's t-test, against the textbook formulas)."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as student_t
from scipy.stats import ttest_ind

from fmnist_rnn.checkpoints import CheckpointError
from fmnist_rnn.seeds import (
    TRIALS_DIR,
    SeedRun,
    across_seeds,
    chosen_run,
    new_run_interval,
    seed_runs,
    trial_recipes,
)


def _write_run(trials: Path, folder: str, name: str, seed: int, test: float = 0.9) -> None:
    path = trials / folder
    path.mkdir(parents=True)
    record = {
        "name": name,
        "builder": "two_layer_lstm",
        "builder_kwargs": {},
        "test_accuracy": test,
        "history": {"val_accuracy": [0.5, test + 0.01, test]},
        "recipe": {"seed": seed},
    }
    (path / f"{name}.json").write_text(json.dumps(record))


def test_seed_runs_finds_one_recipe_sorted_by_seed(tmp_path: Path) -> None:
    for seed in (10, 2, 0):
        _write_run(tmp_path, f"erase-seed{seed}", "erase", seed, test=0.9 + seed / 1000)
    _write_run(tmp_path, "erase_long-seed1", "erase_long", 1)  # a longer name, same prefix
    (tmp_path / "erase-seedx").mkdir()  # not a seed
    (tmp_path / "erase-seed5").write_text("")  # a file, not a run folder
    (tmp_path / "other-seed0").write_text("")  # a file: no recipe "other"
    runs = seed_runs("erase", tmp_path)
    assert [r.seed for r in runs] == [0, 2, 10]  # numeric order, not text order
    assert [r.test_accuracy for r in runs] == [0.9, 0.902, 0.91]
    assert runs[1].best_val_accuracy == pytest.approx(0.912)
    assert [r.seed for r in seed_runs("erase_long", tmp_path)] == [1]
    assert trial_recipes(tmp_path) == ["erase", "erase_long"]  # each once
    assert trial_recipes(tmp_path / "absent") == []


def test_seed_runs_rejects_a_record_that_contradicts_its_folder(tmp_path: Path) -> None:
    _write_run(tmp_path, "erase-seed3", "erase", 2)
    with pytest.raises(CheckpointError, match="seed 2, not of 'erase' with seed 3"):
        seed_runs("erase", tmp_path)


def test_seed_runs_says_how_to_train_a_missing_recipe(tmp_path: Path) -> None:
    command = (
        f"python -m fmnist_rnn.train nothing --seed K --checkpoint-dir {tmp_path}/nothing-seedK"
    )
    with pytest.raises(CheckpointError, match=re.escape(command)):
        seed_runs("nothing", tmp_path)
    assert seed_runs("nothing", tmp_path, missing_ok=True) == []


def test_across_seeds_is_welchs_test() -> None:
    a, b = [0.9156, 0.9148, 0.9120], [0.9100, 0.9061]
    got = across_seeds(a, b)
    # Welch's statistic and Welch-Satterthwaite degrees of freedom, written out.
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    t = (np.mean(a) - np.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert got["diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert got["t"] == pytest.approx(t)
    assert got["df"] == pytest.approx(df)
    assert got["p"] == pytest.approx(2 * student_t.sf(abs(t), df))
    assert got["sd_b"] == pytest.approx(abs(b[0] - b[1]) / math.sqrt(2))
    swapped = across_seeds(b, a)
    assert swapped["t"] == pytest.approx(-got["t"]) and swapped["p"] == pytest.approx(got["p"])


@pytest.mark.parametrize(
    "a, b", [([0.91], [0.90, 0.91]), ([0.91, 0.92], []), ([[0.9, 0.9]], [1, 2])]
)
def test_across_seeds_needs_two_runs_a_side(a, b) -> None:
    with pytest.raises(ValueError, match="at least two runs on each side"):
        across_seeds(a, b)


def test_across_seeds_refuses_runs_without_any_spread() -> None:
    with pytest.raises(ValueError, match="no spread between seeds"):
        across_seeds([0.91, 0.91], [0.90, 0.90, 0.90])


def test_across_seeds_agrees_with_scipy_and_stays_quiet_with_one_tied_side() -> None:
    a, b = [0.9156, 0.9148, 0.9120], [0.9100, 0.9061, 0.9090]
    reference = ttest_ind(a, b, equal_var=False)
    got = across_seeds(a, b)
    assert (got["t"], got["df"], got["p"]) == pytest.approx(
        (reference.statistic, reference.df, reference.pvalue)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no precision warning: one side has no spread
        tied = across_seeds([0.912, 0.912], [0.9096, 0.9104])
    assert tied["sd_a"] == 0 and tied["df"] == pytest.approx(1.0)
    assert tied["t"] == pytest.approx((0.912 - 0.91) / (0.0008 / 2))


def test_committed_trials_match_their_folders() -> None:
    """Every committed trial folder is a run of the recipe and seed its name says."""
    recipes = trial_recipes()
    assert recipes, f"no trial folders in {TRIALS_DIR}"
    for recipe in recipes:
        runs = seed_runs(recipe)  # raises on a mismatch
        assert all(r.folder.name == f"{recipe}-seed{r.seed}" for r in runs)


def _run(seed: int, val: list[float], test: float = 0.9, recipe: str = "erase") -> SeedRun:
    record = {"history": {"val_accuracy": val}, "test_accuracy": test, "recipe": {"seed": seed}}
    return SeedRun(recipe, seed, Path(f"{recipe}-seed{seed}"), record)


def test_chosen_run_takes_the_best_validation_and_ignores_test() -> None:
    runs = [
        _run(0, [0.80, 0.91, 0.90], test=0.95),  # the best test, not the best validation
        _run(1, [0.85, 0.92], test=0.88),  # best validation 0.92, at its last epoch
        _run(2, [0.93, 0.60], test=0.89),  # its best epoch came first: 0.93
    ]
    assert chosen_run(runs).seed == 2
    assert chosen_run(runs[:2]).seed == 1
    assert chosen_run(runs[:1]).seed == 0


def test_chosen_run_breaks_a_tie_towards_the_lower_seed_in_any_order() -> None:
    tied = [_run(5, [0.92]), _run(3, [0.90, 0.92]), _run(4, [0.91])]
    assert chosen_run(tied).seed == 3
    assert chosen_run(tied[::-1]).seed == 3


def test_chosen_run_refuses_nothing_and_mixed_recipes() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        chosen_run([])
    with pytest.raises(ValueError, match=r"one recipe, got runs of \['erase', 'flips'\]"):
        chosen_run([_run(0, [0.9]), _run(1, [0.8], recipe="flips")])


_KERAS_EPOCH = "860/860 - {s}s - 77ms/step - accuracy: 0.9 - loss: 0.3 - val_accuracy: 0.9"


def _log_run(tmp_path: Path, epochs: int, lines: list[str]) -> SeedRun:
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    record = {"epochs": epochs, "history": {"val_accuracy": [0.9] * epochs}, "recipe": {}}
    return SeedRun("erase", 0, tmp_path, record)


def _epochs(first: int, seconds: list[int], of: int) -> list[str]:
    lines = []
    for k, s in enumerate(seconds, start=first):
        lines += [f"Epoch {k}/{of}", _KERAS_EPOCH.format(s=s)]
    return lines


def test_training_log_reads_each_epoch_and_the_later_try_of_a_repeated_one(tmp_path) -> None:
    start = "implementation: fast, 2 chain(s): 2 usable CPU cores and no GPU"
    lines = [start, "I0000 oneDNN custom operations are on."]
    lines += _epochs(1, [70, 66, 150], of=6)
    lines += ["Epoch 4/6", "320/860 ━━━━━━━━━━━━━━━ 31s 98ms/step"]  # cut short: no end line
    lines += [start, *_epochs(4, [67, 65, 66], of=6)]  # resumed at epoch 4
    lines += ["157/157 - 3s - 20ms/step - accuracy: 0.9 - loss: 0.3"]  # an evaluation after
    log = _log_run(tmp_path, 6, lines).training_log()
    assert log.starts == 2
    assert log.seconds.tolist() == [70, 66, 150, 67, 65, 66]
    # The median of the six is 66.5; only epoch 3 took over 1.2 times that (79.8 s).
    assert log.slow_epochs().tolist() == [3]
    assert log.slow_epochs(factor=1.05).tolist() == [1, 3]  # over 69.8 s


def test_training_log_takes_a_repeated_epoch_from_its_second_try(tmp_path) -> None:
    start = "implementation: fast, 1 chain(s)"
    lines = [start, *_epochs(1, [60, 90], of=3), start, *_epochs(2, [61, 62], of=3)]
    assert _log_run(tmp_path, 3, lines).training_log().seconds.tolist() == [60, 61, 62]


def test_training_log_says_what_is_missing(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"has no train\.log"):
        SeedRun("erase", 0, tmp_path, {"epochs": 3}).training_log()
    gap = _epochs(1, [60], of=3) + _epochs(3, [60], of=3)
    with pytest.raises(
        CheckpointError, match=r"times 2 epochs; the record has 3; missing epochs 2 \("
    ):
        _log_run(tmp_path, 3, gap).training_log()
    longer = _epochs(1, [60] * 8, of=8)
    with pytest.raises(CheckpointError, match=r"epochs beyond the record 4, 5, 6, 7, 8 \("):
        _log_run(tmp_path, 3, longer).training_log()
    with pytest.raises(CheckpointError, match=r"missing epochs 1, 2, 3, 4, 5, \.\.\. \(8 in all\)"):
        _log_run(tmp_path, 8, ["no epochs"]).training_log()
    twice = _epochs(1, [60, 61], of=2) + _epochs(2, [62], of=2)  # no start in between
    with pytest.raises(CheckpointError, match="times epoch 2 twice in one start"):
        _log_run(tmp_path, 2, twice).training_log()


def test_committed_training_logs_time_every_epoch() -> None:
    """Every committed trial with a train.log (the chapters read them) times each epoch once."""
    logged = [
        run
        for recipe in trial_recipes()
        for run in seed_runs(recipe)
        if (run.folder / "train.log").is_file()
    ]
    assert len(logged) >= 5
    for run in logged:
        log = run.training_log()  # raises on a missing or doubled epoch
        assert log.starts >= 1 and len(log.seconds) == run.record["epochs"]
    # One resumed run, read by hand: stopped during epoch 21, which its second start redid.
    (resumed,) = [run for run in logged if run.folder.name == "two_layer_lstm_erase_xl_wd-seed0"]
    log = resumed.training_log()
    assert log.starts == 2 and log.seconds[19:22].tolist() == [63, 74, 64]


def test_new_run_interval_against_the_cauchy_case() -> None:
    """With two runs, Student's t has one degree of freedom: the Cauchy distribution,
    whose quantiles and tails have closed forms."""
    a, new = [0.9096, 0.9104], 0.9176
    mean, s = 0.91, 0.0008 / math.sqrt(2)
    scale = s * math.sqrt(1 + 1 / 2)
    half = math.tan(math.pi * (0.975 - 0.5)) * scale  # Cauchy quantile
    got = new_run_interval(a, new)
    assert (got["low"], got["high"]) == pytest.approx((mean - half, mean + half))
    statistic = (new - mean) / scale
    assert got["p"] == pytest.approx(1 - 2 * math.atan(statistic) / math.pi)
    assert got["inside"] and got["spreads"] == pytest.approx((new - mean) / s)
    assert not new_run_interval(a, 0.93)["inside"]
    half_50 = math.tan(math.pi * (0.75 - 0.5)) * scale  # a 50% interval: the quartiles
    got_50 = new_run_interval(a, new, level=0.5)
    assert (got_50["low"], got_50["high"]) == pytest.approx((mean - half_50, mean + half_50))
    assert new_run_interval([0.95, 0.999], 0.99)["high"] == 1.0  # clipped to an accuracy


def test_new_run_interval_covers_new_runs_and_matches_its_test() -> None:
    """Simulated normal runs: a new run lands inside about 95% of the time, and p < 0.05
    exactly when it lands outside."""
    rng = np.random.default_rng(0)
    inside = []
    for _ in range(4000):
        runs, new = rng.normal(0.91, 0.003, 3), rng.normal(0.91, 0.003)
        got = new_run_interval(runs, new)
        assert got["inside"] == (got["p"] >= 0.05)
        inside.append(got["inside"])
    assert np.mean(inside) == pytest.approx(0.95, abs=0.012)


def test_new_run_interval_refuses_what_it_cannot_scale() -> None:
    with pytest.raises(ValueError, match="at least two runs"):
        new_run_interval([0.91], 0.92)
    with pytest.raises(ValueError, match="one accuracy per run"):
        new_run_interval([[0.91, 0.92], [0.90, 0.93]], 0.92)
    with pytest.raises(ValueError, match="tie"):
        new_run_interval([0.91, 0.91], 0.92)


@pytest.mark.parametrize("seed", [0, 1])
def test_one_seed_starts_both_readers_from_the_same_weights(seed: int) -> None:
    """Chapter 5 treats a row run and a column run with the same seed as paired: built as
    the training command builds them (plain model first, then the fast path), the two
    readers start from identical weights, and another seed starts elsewhere."""
    from fmnist_rnn import models
    from fmnist_rnn.performance import fast_lstm
    from fmnist_rnn.seeding import set_seed

    def initial_weights(read: str, seed: int) -> list[np.ndarray]:
        set_seed(seed)
        models.get_builder("two_layer_lstm")(read=read)
        return fast_lstm.fast_two_layer_lstm(read=read, skip_blank=True, chains=2).get_weights()

    columns, rows = initial_weights("columns", seed), initial_weights("rows", seed)
    assert len(columns) == len(rows) > 0
    assert all(np.array_equal(c, r) for c, r in zip(columns, rows, strict=True))
    other = initial_weights("rows", seed + 7)
    assert not np.array_equal(other[0], rows[0])
