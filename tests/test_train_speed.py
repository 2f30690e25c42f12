"""The speed benchmark: its configurations, the committed result, its worker processes.

Small on purpose (a few hundred images, two stretches of 32): this checks the
mechanics, not the speed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from fmnist_rnn.data import Splits, load_splits
from fmnist_rnn.performance import speed_benchmark
from fmnist_rnn.performance.configurations import (
    FAST_SKIP,
    KERAS_EXAMPLE,
    TrainConfig,
    configurations,
    for_fast_path,
    from_row,
)
from fmnist_rnn.performance.hardware import choose_fast_path

RESULT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "train_speed.json"


@pytest.fixture(scope="module")
def tiny(data_dir) -> Splits:
    s = load_splits()
    return Splits(
        s.x_train[:256], s.y_train[:256], s.x_val[:64], s.y_val[:64], s.x_test[:64], s.y_test[:64]
    )


def test_configurations():
    quick = configurations(quick=True)
    assert [c.name for c in quick] == ["keras_example", "fast_lstm", "fast_lstm_skip_blank"]
    assert all(c.threads is None for c in quick)  # the quick list runs in-process
    full = {c.name: c for c in configurations()}
    assert full["keras_example"] == KERAS_EXAMPLE
    assert full["fast_skip_1thread"].threads == (1, 1)
    assert full["fast_skip_chains2"].model_kwargs == {**FAST_SKIP.model_kwargs, "chains": 2}
    two_cores = for_fast_path(choose_fast_path(cores=2, gpus=[]))
    assert full["fast_skip_chains2_t1"].same_settings(two_cores)
    one_core = for_fast_path(choose_fast_path(cores=1, gpus=[]))
    assert full["fast_skip_1thread"].same_settings(one_core)
    b64 = full["fast_skip_b64_chains2_t1"]
    assert (b64.batch_size, b64.model_kwargs["chains"], b64.threads) == (64, 2, (1, 2))


def test_every_configuration_has_its_own_description():
    full = configurations()
    assert len({c.description for c in full}) == len(full)
    renamed = KERAS_EXAMPLE.replace(name="fast", model="fast")
    assert renamed.description != KERAS_EXAMPLE.description
    assert renamed.description.startswith("FastLSTM")


def test_model_kwargs_belong_to_the_fast_model():
    with pytest.raises(ValueError, match="only to model='fast'"):
        TrainConfig("bad", model_kwargs={"chains": 2})
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig("bad", model="cuda")


def test_committed_result_describes_what_it_measured():
    """Every row of the committed JSON is one of today's configurations, described by it."""
    rows = json.loads(RESULT.read_text())["configurations"]
    today = {c.name: c for c in configurations()}
    assert [row["name"] for row in rows] == list(today)
    for row in rows:
        measured = from_row(row)
        assert measured.same_settings(today[row["name"]]), row["name"]
        assert row["description"] == today[row["name"]].description
    chosen = [row["name"] for row in rows if row["default"]]
    assert chosen == ["fast_skip_chains2_t1"]  # choose_fast_path on the 2 measuring cores


@pytest.mark.timeout(600)
def test_the_reference_trains_alone_the_others_by_thread_setting(tiny):
    configs = [
        KERAS_EXAMPLE,
        KERAS_EXAMPLE.replace(name="keras_1thread", threads=(1, 1)),
        KERAS_EXAMPLE.replace(name="keras_again"),  # the reference's pools, not its process
        KERAS_EXAMPLE.replace(name="keras_once_more"),
    ]
    lines = []
    rows = speed_benchmark.run(configs, tiny, chunk=32, rounds=2, val_images=32, log=lines.append)
    assert not multiprocessing.active_children(), "a worker process is still running"
    assert [row["name"] for row in rows] == [c.name for c in configs]
    assert [row["threads"] for row in rows] == [None, {"intra_op": 1, "inter_op": 1}, None, None]
    assert all(row["worker_process"] for row in rows)
    processes = [row["process_id"] for row in rows]
    assert processes[2] == processes[3] and len(set(processes)) == 3
    assert os.getpid() not in processes
    assert rows[0]["images_seen"] == rows[1]["images_seen"] == 64
    for row in rows:
        assert len(row["curve"]) == len(row["images_per_s_stretches"]) == 2
    # Same weights, same images, same function: the same model up to rounding.
    for row in rows[1:]:
        assert row["test_accuracy"] == pytest.approx(rows[0]["test_accuracy"], abs=1 / 32)
    assert rows[0]["ratio_to_keras_example"] == 1.0
    assert "1/1" in speed_benchmark.table(rows)
    assert sum("images/s" in line for line in lines) == 8
    assert sum("worker process" in line for line in lines) == 3


@pytest.mark.timeout(300)
def test_a_failing_worker_reports_its_error_and_stops(tiny):
    bad = TrainConfig("bad", model="fast", model_kwargs={"matmul_dtype": "float16"}, threads=(1, 1))
    with pytest.raises(ValueError, match="matmul_dtype"):
        speed_benchmark.run([bad], tiny, chunk=32, rounds=2, val_images=32, log=lambda _: None)
    assert not multiprocessing.active_children()
