"""The training command: keyed run folders, refused mismatches, resume, checkpoints, CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from fmnist_rnn import train
from fmnist_rnn.checkpoints import CHECKPOINT_DIR, load_checkpoint
from fmnist_rnn.data import load_splits
from fmnist_rnn.evaluation import evaluate_accuracy
from fmnist_rnn.models import BUILDERS
from fmnist_rnn.profiles import PROFILES, Profile
from fmnist_rnn.resume import RunError, run_folder

SMOKE, FULL = PROFILES["smoke"], PROFILES["full"]
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
HAS_PERFORMANCE = importlib.util.find_spec("fmnist_rnn.performance") is not None


@pytest.fixture
def data(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(data_dir))


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "FMNIST_PROFILE": "smoke"},
        cwd=NOTEBOOKS,  # where the package is importable without an install
        timeout=300,
    )


def test_every_recipe_names_a_registered_builder() -> None:
    for name, recipe in train.RECIPES.items():
        assert recipe.builder in BUILDERS, name
        BUILDERS[recipe.builder](**recipe.builder_kwargs)  # the kwargs are the builder's


def test_package_and_help_do_not_import_tensorflow() -> None:
    done = _python(
        "import sys, fmnist_rnn\n"
        "from fmnist_rnn import train\n"
        "try:\n    train.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--implementation {auto,keras,fast}" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_name_and_bad_threads_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; valid names: .*two_layer_lstm"):
        train.get_recipe("resnet")
    for args, message in [
        ("'resnet'", "unknown model 'resnet'; valid names: lstm_rows, mlp"),
        ("'mlp', '--threads', '0'", "--threads must be at least 1"),
    ]:
        done = _python(f"from fmnist_rnn import train; train.main([{args}])")
        assert done.returncode == 2 and message in done.stderr


def test_run_folders_differ_by_everything_that_determines_a_run(tmp_path: Path) -> None:
    recipe = train.RECIPES["two_layer_lstm"]
    base, identity = run_folder("two_layer_lstm", recipe, FULL, 30, "keras", tmp_path)
    assert base.name.startswith("two_layer_lstm-full-keras-")
    assert identity["recipe"]["builder_kwargs"] == {"read": "columns"}
    others = [
        run_folder("two_layer_lstm", recipe, SMOKE, 30, "keras", tmp_path)[0],
        run_folder("two_layer_lstm", recipe, FULL, 30, "fast", tmp_path)[0],
        run_folder("two_layer_lstm", recipe, FULL, 29, "keras", tmp_path)[0],
        run_folder(
            "two_layer_lstm", train.RECIPES["two_layer_lstm_rows"], FULL, 30, "keras", tmp_path
        )[0],
        run_folder(
            "two_layer_lstm", dataclasses.replace(recipe, seed=1), FULL, 30, "keras", tmp_path
        )[0],
    ]
    assert len({base, *others}) == 1 + len(others)
    assert base == run_folder("two_layer_lstm", recipe, FULL, 30, "keras", tmp_path)[0]


def test_a_folder_of_another_recipe_is_refused(data, tmp_path: Path) -> None:
    recipe = train.RECIPES["mlp"]
    run_dir, identity = run_folder("mlp", recipe, SMOKE, 1, "keras", tmp_path)
    run_dir.mkdir()
    changed = {**identity, "recipe": {**identity["recipe"], "learning_rate": 0.1}}
    (run_dir / "recipe.json").write_text(json.dumps(changed))
    with pytest.raises(RunError, match=r"holds a run of another recipe.*--retrain"):
        train.train("mlp", runs_dir=tmp_path, profile=SMOKE, verbose=0)
    (run_dir / "recipe.json").unlink()
    (run_dir / "backup").mkdir()
    with pytest.raises(RunError, match=r"no recipe\.json"):
        train.train("mlp", runs_dir=tmp_path, profile=SMOKE, verbose=0)


def test_implementation_choice() -> None:
    assert train.fast_path("keras", "two_layer_lstm") is None
    assert train.fast_path("fast", "mlp") is None  # only the two-layer LSTM has a fast path
    with pytest.raises(ValueError, match="unknown implementation"):
        train.fast_path("cuda", "two_layer_lstm")
    if not HAS_PERFORMANCE:
        assert train.fast_path("auto", "two_layer_lstm") is None
        with pytest.raises(RunError, match=r"needs fmnist_rnn\.performance"):
            train.fast_path("fast", "two_layer_lstm")


def test_smoke_training_writes_a_loadable_weights_only_checkpoint(data, tmp_path: Path) -> None:
    before = sorted(CHECKPOINT_DIR.glob("*"))
    path = train.train("mlp", runs_dir=tmp_path, profile=SMOKE, verbose=0, command="test", seed=3)
    assert path.parent.parent == tmp_path  # in the run folder, not the committed one
    assert sorted(CHECKPOINT_DIR.glob("*")) == before
    record = json.loads(path.read_text())
    assert record["builder"] == "mlp" and record["profile"] == "smoke"
    assert len(record["history"]["val_accuracy"]) == record["epochs"] == 1
    assert record["provenance"]["implementation"] == "keras"
    assert set(record["recipe"]) == {
        *("optimizer", "learning_rate", "batch_size", "warmup_images", "cosine"),
        *("shift_pixels", "flip", "erase", "label_smoothing", "weight_decay", "seed", "why"),
    }
    assert record["recipe"]["seed"] == 3
    with h5py.File(path.with_suffix("").with_suffix(".weights.h5"), "r") as weights:
        assert set(weights) == {"layers", "vars"}  # no optimizer state
    model, _ = load_checkpoint("mlp", directory=path.parent)
    splits = load_splits(SMOKE)
    accuracy = evaluate_accuracy(model, splits.x_test, splits.y_test)
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-9)


class Killed(Exception):
    """Stands for the process being killed between two epochs."""


def test_a_killed_run_resumes_at_the_epoch_boundary(data, tmp_path: Path) -> None:
    import keras

    two_epochs = Profile("tiny", 300, 100, 100, 2, "tiny, two epochs")

    def kill(epoch: int, logs: dict | None = None) -> None:
        if epoch == 1:
            raise Killed

    killer = keras.callbacks.LambdaCallback(on_epoch_begin=kill)
    args = {"runs_dir": tmp_path, "profile": two_epochs, "verbose": 0}
    with pytest.raises(Killed):
        train.train("mlp", command="first attempt", callbacks=[killer], **args)
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "history.csv").read_text().count("\n") == 2  # header + epoch 1
    resumed = json.loads(train.train("mlp", command="second attempt", **args).read_text())
    assert len(resumed["history"]["loss"]) == 2  # epoch 1 not repeated, epoch 2 trained
    assert resumed["provenance"]["command"] == "second attempt"
    assert resumed["run_start"]["command"] == "first attempt"
    val = resumed["history"]["val_accuracy"]
    assert resumed["best_epoch"] == 1 + val.index(max(val))
    # A finished run is resumed, not retrained; --retrain starts again.
    again = json.loads(train.train("mlp", command="third", **args).read_text())
    assert again["history"] == resumed["history"]
    fresh = json.loads(train.train("mlp", retrain=True, command="fresh", **args).read_text())
    assert fresh["run_start"]["command"] == "fresh"


def test_weight_decay_shrinks_each_weight_by_the_learning_rate_times_its_share() -> None:
    import keras
    import numpy as np

    recipe = train.RECIPES["two_layer_lstm"]  # with a warm-up from a tenth of the peak
    for decay in (0.1, 0.0):
        optimizer = train._optimizer(dataclasses.replace(recipe, weight_decay=decay), steps=10)
        weight = keras.Variable(np.full(3, 2.0, "float32"))
        optimizer.apply([keras.ops.zeros(3)], [weight])  # a zero gradient: Adam moves nothing
        shrunk = 2.0 * (1 - recipe.learning_rate / 10 * decay)  # the first step's rate
        np.testing.assert_allclose(keras.ops.convert_to_numpy(weight), shrunk, rtol=1e-6)


def test_random_erasing_replaces_one_rectangle_in_the_set_share_of_training_images() -> None:
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    recipe = dataclasses.replace(train.get_recipe("two_layer_lstm_erase"), shift_pixels=0)
    identity = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Identity()])
    images = np.full((400, 28, 28, 1), 0.5, np.float32)
    for share in (1.0, recipe.erase):
        augmented = train._with_augmentation(identity, dataclasses.replace(recipe, erase=share))
        changed = np.asarray(augmented(images, training=True))[..., 0] != 0.5
        erased = changed.any(axis=(1, 2))
        assert abs(erased.mean() - share) < 0.07, (share, erased.mean())
        for mask in changed[erased][:50]:
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            assert mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()  # one rectangle
            assert 3 <= len(rows) <= 17 and 3 <= len(cols) <= 17  # sides 14-57% of 28
        np.testing.assert_array_equal(augmented(images, training=False), images)
