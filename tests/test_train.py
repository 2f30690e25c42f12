"""The training command in the smoke profile: checkpoint written, resumable, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_rnn import train
from fmnist_rnn.checkpoints import CHECKPOINT_DIR, load_checkpoint
from fmnist_rnn.data import load_splits
from fmnist_rnn.evaluation import evaluate_accuracy
from fmnist_rnn.models import BUILDERS
from fmnist_rnn.profiles import Profile, get_profile

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def smoke(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("FMNIST_PROFILE", "smoke")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(data_dir))


def test_every_recipe_names_a_registered_builder() -> None:
    for name, recipe in train.RECIPES.items():
        assert recipe.builder in BUILDERS, name
        assert recipe.epochs >= 1 and recipe.why, name


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m fmnist_rnn.train ARGS`` from ``notebooks/`` in the smoke profile."""
    return subprocess.run(
        [sys.executable, "-m", "fmnist_rnn.train", *args],
        cwd=REPO / "notebooks",
        capture_output=True,
        text=True,
        env={**os.environ, "FMNIST_PROFILE": "smoke"},
    )


def test_unknown_name_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; valid names: .*two_layer_lstm"):
        train.get_recipe("resnet")
    done = _cli("resnet")
    assert done.returncode == 2
    assert "unknown model 'resnet'; valid names: lstm_rows, mlp" in done.stderr


def test_threads_must_be_positive() -> None:
    done = _cli("mlp", "--threads", "0")
    assert done.returncode == 2
    assert "--threads must be at least 1" in done.stderr


def test_smoke_training_writes_a_loadable_checkpoint(smoke, tmp_path: Path) -> None:
    before = sorted(CHECKPOINT_DIR.glob("*")) if CHECKPOINT_DIR.exists() else []
    path = train.train("mlp", runs_dir=tmp_path / "runs", checkpoint_dir=tmp_path, verbose=0)
    record = json.loads(path.read_text())
    assert path.parent == tmp_path
    assert record["builder"] == "mlp" and record["profile"] == "smoke"
    assert len(record["history"]["val_accuracy"]) == record["epochs"] == 1
    assert {"command", "git_commit", "data_md5", "wall_time_s"} <= set(record["provenance"])
    model, _ = load_checkpoint("mlp", directory=tmp_path)
    splits = load_splits(get_profile())
    assert evaluate_accuracy(model, splits.x_test, splits.y_test) == pytest.approx(
        record["test_accuracy"], abs=1e-6
    )
    # A smoke run never writes into the committed checkpoints unless told to.
    default = train.train("mlp", runs_dir=tmp_path / "runs2", verbose=0)
    assert default.parent != CHECKPOINT_DIR
    after = sorted(CHECKPOINT_DIR.glob("*")) if CHECKPOINT_DIR.exists() else []
    assert after == before


def test_a_finished_backup_is_resumed_not_retrained(smoke, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = json.loads(train.train("mlp", runs_dir=runs, checkpoint_dir=tmp_path).read_text())
    # The backup says the one smoke epoch is done: the second call trains nothing.
    second = json.loads(train.train("mlp", runs_dir=runs, checkpoint_dir=tmp_path).read_text())
    assert second["history"] == first["history"]
    assert second["test_accuracy"] == first["test_accuracy"]
    # --retrain forgets the backup and the history.
    third = train.train("mlp", retrain=True, runs_dir=runs, checkpoint_dir=tmp_path, verbose=0)
    assert len(json.loads(third.read_text())["history"]["loss"]) == 1


def test_an_interrupted_run_continues_where_it_stopped(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    two_epochs = Profile("smoke", 300, 100, 100, 2, "tiny, two epochs")
    monkeypatch.setattr(train, "get_profile", lambda: two_epochs)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(data_dir))
    reference = json.loads(
        train.train("mlp", runs_dir=tmp_path / "a", checkpoint_dir=tmp_path / "a").read_text()
    )

    class Killed(Exception):
        pass

    kill = {"armed": True}

    def kill_before_second_epoch(self, epoch, logs=None):
        if kill["armed"] and epoch == 1:
            raise Killed

    monkeypatch.setattr(train.BestWeights, "on_epoch_begin", kill_before_second_epoch)
    with pytest.raises(Killed):
        train.train(
            "mlp", runs_dir=tmp_path / "b", checkpoint_dir=tmp_path / "b", command="first attempt"
        )
    assert (tmp_path / "b" / "mlp" / "history.csv").read_text().count("\n") == 2  # header + 1
    kill["armed"] = False
    resumed = json.loads(
        train.train(
            "mlp", runs_dir=tmp_path / "b", checkpoint_dir=tmp_path / "b", command="second attempt"
        ).read_text()
    )
    # The record names the attempt that finished and the one that started the run.
    assert resumed["provenance"]["command"] == "second attempt"
    assert resumed["run_start"]["command"] == "first attempt"
    assert resumed["run_start"]["git_commit"] == resumed["provenance"]["git_commit"]
    assert reference["run_start"]["command"] == reference["provenance"]["command"]
    # Epoch 1 was not repeated; epoch 2 continued from the backup (same shuffle, same
    # optimizer state), so it lands where the uninterrupted run did, up to dropout noise.
    assert len(resumed["history"]["loss"]) == 2
    assert resumed["history"]["loss"][0] == reference["history"]["loss"][0]
    assert resumed["history"]["loss"][1] == pytest.approx(reference["history"]["loss"][1], abs=0.05)


def test_a_run_without_a_start_record_is_not_dated_now(tmp_path: Path) -> None:
    from fmnist_rnn.resume import run_start

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_start(fresh, "abc", "cmd")["command"] == "cmd"
    assert run_start(fresh, "def", "other")["git_commit"] == "abc"  # read back, not rewritten
    old = tmp_path / "old"
    old.mkdir()
    (old / "history.csv").write_text("epoch,loss\n0,1.0\n")
    assert run_start(old, "abc", "cmd") == {
        "git_commit": "unknown",
        "command": "unknown",
        "date": "unknown",
    }
    assert not (old / "start.json").exists()
