"""Checkpoints: round trip through the recorded builder, provenance, clear errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from fmnist_rnn.checkpoints import (
    CheckpointError,
    checkpoint_paths,
    git_commit,
    git_dirty,
    load_checkpoint,
    load_record,
    provenance,
    save_checkpoint,
)
from fmnist_rnn.data import MD5SUMS


def tiny(units: int = 4) -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


BUILDERS = {"tiny": tiny}


def get_builder(name: str):
    return BUILDERS[name]


@pytest.fixture
def saved(tmp_path: Path) -> tuple[keras.Model, Path]:
    keras.utils.set_random_seed(0)
    model = tiny(units=4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.zeros((2, 28, 28, 1), np.float32)
    model.fit(x, np.array([0, 1]), verbose=0)  # the optimizer now has state
    save_checkpoint(
        model,
        "tiny_run",
        builder="tiny",
        builder_kwargs={"units": 4},
        history={"loss": [2.0, 1.5], "val_accuracy": [0.5, 0.6]},
        test_accuracy=0.25,
        directory=tmp_path,
        get_builder=get_builder,
    )
    return model, tmp_path


def test_round_trip(saved) -> None:
    model, directory = saved
    loaded, record = load_checkpoint("tiny_run", directory, get_builder=get_builder)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert record["builder"] == "tiny" and record["builder_kwargs"] == {"units": 4}
    assert record["parameters"] == model.count_params()
    assert record["history"]["val_accuracy"] == [0.5, 0.6]
    with h5py.File(checkpoint_paths("tiny_run", directory)[0], "r") as weights:
        assert set(weights) == {"layers", "vars"}  # weights only, no optimizer state


def test_provenance_fields(saved) -> None:
    _, directory = saved
    prov = load_record("tiny_run", directory)["provenance"]
    for key in ("command", "git_commit", "git_dirty", "keras", "cpu", "date", "wall_time_s"):
        assert key in prov
    assert prov["data_md5"] == MD5SUMS
    assert prov["tensorflow"] and prov["cpu"]
    assert provenance("cmd", 12.34)["wall_time_s"] == 12.3
    # A long run records the commit it started from, not the one at its end.
    assert provenance("cmd", 1.0, commit="abc123")["git_commit"] == "abc123"
    assert provenance("cmd")["git_commit"] == git_commit()
    assert provenance("cmd", implementation="fast")["implementation"] == "fast"


def test_git_commit_is_exact_and_a_dirty_tree_is_flagged(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "code.py").write_text("a = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "first")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD") and len(git_commit(tmp_path)) == 40
    assert not git_dirty(tmp_path)
    (tmp_path / "notes.txt").write_text("untracked files do not count\n")
    assert not git_dirty(tmp_path)
    (tmp_path / "code.py").write_text("a = 2\n")
    assert git_dirty(tmp_path)
    assert git_commit(tmp_path / "nowhere") == "unknown"


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no checkpoint record.*fmnist_rnn\.train nothing"):
        load_checkpoint("nothing", tmp_path, get_builder=get_builder)


def test_missing_weights(saved) -> None:
    _, directory = saved
    checkpoint_paths("tiny_run", directory)[0].unlink()
    with pytest.raises(CheckpointError, match=r"weights .* are missing"):
        load_checkpoint("tiny_run", directory, get_builder=get_builder)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_builder_mismatch_is_a_clear_error(saved) -> None:
    _, directory = saved
    record_path = checkpoint_paths("tiny_run", directory)[1]
    record = json.loads(record_path.read_text())
    record["builder_kwargs"] = {"units": 8}  # the builder now makes a wider model
    record_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="parameters"):
        load_checkpoint("tiny_run", directory, get_builder=get_builder)
    del record["parameters"]  # even without the count, the weight shapes disagree
    record_path.write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="do not match the model"):
        load_checkpoint("tiny_run", directory, get_builder=get_builder)


def test_malformed_record(saved) -> None:
    _, directory = saved
    record_path = checkpoint_paths("tiny_run", directory)[1]
    record_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_record("tiny_run", directory)
    record_path.write_text(json.dumps({"builder": "tiny"}))
    with pytest.raises(CheckpointError, match="lacks the field 'builder_kwargs'"):
        load_record("tiny_run", directory)
