"""The benchmark's per-configuration thread settings and its worker processes.

Small on purpose (tiny data, two stretches of 32 images): this checks the
protocol, not the speed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_rnn.data import Splits, load_splits
from fmnist_rnn.models import two_layer_lstm
from fmnist_rnn.training import DEFAULT, FAST_SKIP, KERAS_EXAMPLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import train_speed


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen]:
    """Every process the benchmark starts (to check that none is left)."""
    processes = []
    popen = subprocess.Popen

    def record(*args, **kwargs):
        process = popen(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(train_speed.subprocess, "Popen", record)
    return processes


@pytest.fixture(scope="module")
def tiny(data_dir) -> Splits:
    """A few hundred images of each split."""
    s = load_splits()
    return Splits(
        s.x_train[:256], s.y_train[:256], s.x_val[:64], s.y_val[:64], s.x_test[:64], s.y_test[:64]
    )


def test_entries_and_configurations():
    assert train_speed.unpack((KERAS_EXAMPLE, two_layer_lstm)) == (
        KERAS_EXAMPLE,
        two_layer_lstm,
        None,
    )
    assert train_speed.unpack((DEFAULT, two_layer_lstm, (1, 2)))[2] == (1, 2)
    with pytest.raises(ValueError, match="threads"):
        train_speed.unpack((DEFAULT, two_layer_lstm, (1,)))
    quick = [train_speed.unpack(e) for e in train_speed.configurations(quick=True)]
    assert [c.name for c, _, _ in quick] == ["keras_example", "fast_lstm", "fast_lstm_skip_blank"]
    assert all(t is None for _, _, t in quick)  # the quick list runs in-process
    full = {c.name: (c, t) for c, _, t in map(train_speed.unpack, train_speed.configurations())}
    assert full["keras_example"][1] is None
    assert full["fast_skip_1thread"][1] == (1, 1)
    assert full["fast_skip_1thread"][0].model_kwargs == FAST_SKIP.model_kwargs
    assert full["fast_skip_chains2"][0].model_kwargs == {**FAST_SKIP.model_kwargs, "chains": 2}
    assert full["fast_skip_chains2"][1] is None
    assert full["fast_skip_chains2_t1"] == (DEFAULT, (1, 2))  # the helper's default, measured
    b64 = full["fast_skip_b64_chains2_t1"][0]
    assert (b64.batch_size, b64.model_kwargs["chains"]) == (64, 2)
    assert full["fast_skip_b64_chains2_t1"][1] == (1, 2)


def test_thread_settings_need_workers(tiny):
    entries = [(KERAS_EXAMPLE, two_layer_lstm), (DEFAULT, two_layer_lstm, (1, 1))]
    with pytest.raises(ValueError, match="worker"):
        train_speed.run(entries, tiny, chunk=32, rounds=2, workers=False)


def test_worker_answers_are_bounded_in_time(tmp_path):
    worker = train_speed._Worker(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "log", timeout=1.0
    )
    with pytest.raises(train_speed.WorkerError, match="did not answer"):
        worker.request({"op": "train", "index": 0, "round": 0})
    worker.close()
    assert worker.process.returncode is not None


def test_one_worker_per_thread_setting(tiny, started):
    entries = [
        (KERAS_EXAMPLE, two_layer_lstm),
        (KERAS_EXAMPLE.replace(name="keras_1thread"), two_layer_lstm, (1, 1)),
    ]
    lines = []
    rows = train_speed.run(
        entries, tiny, chunk=32, rounds=2, val_images=32, log=lines.append, timeout=600
    )
    assert len(started) == 2
    assert all(p.poll() is not None for p in started), "a worker process is still running"
    assert all(p.returncode == 0 for p in started)
    assert [row["name"] for row in rows] == ["keras_example", "keras_1thread"]
    assert rows[0]["threads"] is None
    assert rows[1]["threads"] == {"intra_op": 1, "inter_op": 1}
    assert all(row["worker_process"] for row in rows)
    assert rows[0]["images_seen"] == rows[1]["images_seen"] == 64
    for row in rows:
        assert len(row["curve"]) == len(row["images_per_s_stretches"]) == 2
        assert 0.0 <= row["val_accuracy"] <= 1.0
    # Same weights, same images, same function: the same model up to rounding.
    assert rows[0]["test_accuracy"] == pytest.approx(rows[1]["test_accuracy"], abs=1 / 32)
    assert rows[0]["ratio_to_keras_example"] == 1.0
    assert "1/1" in train_speed.table(rows)
    assert sum("images/s" in line for line in lines) == 4


def test_a_failing_worker_is_stopped(tiny, started):
    bad = KERAS_EXAMPLE.replace(name="bad", model_kwargs={"chains": 2})  # chains: fast only
    entries = [(KERAS_EXAMPLE, two_layer_lstm, (1, 1)), (bad, two_layer_lstm, (1, 1))]
    with pytest.raises(train_speed.WorkerError, match="chains"):
        train_speed.run(entries, tiny, chunk=32, rounds=2, val_images=32, timeout=600)
    assert len(started) == 1
    assert started[0].poll() is not None
