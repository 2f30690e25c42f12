"""Behaviour of fmnist_rnn.training (tiny random data, seconds; no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from fmnist_rnn import training
from fmnist_rnn.data import Splits
from fmnist_rnn.models import two_layer_lstm
from fmnist_rnn.training import DEFAULT, KERAS_EXAMPLE, TrainConfig, WarmupSchedule


@pytest.fixture(scope="module")
def splits() -> Splits:
    rng = np.random.default_rng(0)

    def part(n):
        return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(
            np.uint8
        )

    return Splits(*part(64), *part(32), *part(32))


def small(units: int = 8, **kwargs) -> keras.Model:
    return two_layer_lstm(units=units, **kwargs)


def test_keras_example_is_the_examples_setup():
    assert KERAS_EXAMPLE.batch_size == 32
    assert KERAS_EXAMPLE.optimizer == "rmsprop"
    assert KERAS_EXAMPLE.learning_rate == pytest.approx(1e-3)
    assert KERAS_EXAMPLE.precision == "float32"
    assert not KERAS_EXAMPLE.jit_compile
    assert KERAS_EXAMPLE.model_kwargs == {}


def test_default_is_documented_and_uses_the_fast_lstm():
    assert DEFAULT.model_kwargs.get("implementation") == "fast"
    assert "benchmarks/train_speed.py" in training.__doc__


def test_scaled_config_and_warmup_schedule():
    big = KERAS_EXAMPLE.scaled(128, warmup_images=1024)
    assert big.batch_size == 128
    assert big.learning_rate == pytest.approx(2e-3)
    schedule = big.learning_rate_value()
    assert isinstance(schedule, WarmupSchedule)
    assert schedule.warmup_steps == 8
    assert float(schedule(0)) == pytest.approx(2e-3 / 8)
    assert float(schedule(7)) == pytest.approx(2e-3)
    assert float(schedule(100)) == pytest.approx(2e-3)
    assert KERAS_EXAMPLE.learning_rate_value() == pytest.approx(1e-3)
    assert WarmupSchedule.from_config(schedule.get_config()).warmup_steps == 8


def test_build_model_applies_precision_and_restores_policy():
    before = keras.mixed_precision.dtype_policy().name
    model = training.build_model(small, TrainConfig("bf16", precision="mixed_bfloat16"))
    assert model.get_layer("image_lstm").compute_dtype == "bfloat16"
    assert model.get_layer("classes").compute_dtype == "float32"
    assert keras.mixed_precision.dtype_policy().name == before


def test_build_model_passes_only_accepted_kwargs():
    model = training.build_model(small, DEFAULT, read="rows")
    assert model.name == "two_layer_lstm_rows"
    assert model.get_layer("pixel_lstm").__class__.__name__ == "FastLSTM"

    def no_kwargs() -> keras.Model:
        return small()

    assert training.build_model(no_kwargs, DEFAULT).count_params() > 0


def test_compile_model_uses_config():
    model = training.compile_model(small(), KERAS_EXAMPLE.scaled(64, warmup_images=256))
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert isinstance(model.optimizer._learning_rate, WarmupSchedule)


@pytest.mark.parametrize("config", [KERAS_EXAMPLE, DEFAULT], ids=lambda c: c.name)
def test_fit_from_builder_returns_history(splits, config):
    history = training.fit(small, splits, epochs=1, config=config, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.model.count_params() == small().count_params()


def test_fit_accepts_a_model_and_model_kwargs(splits):
    model = small(read="rows")
    history = training.fit(model, splits, epochs=1, config=KERAS_EXAMPLE, verbose=0)
    assert history.model is model
    history = training.fit(small, splits, 1, DEFAULT, verbose=0, model_kwargs={"read": "rows"})
    assert history.model.name == "two_layer_lstm_rows"


def test_default_trains_like_the_keras_example(splits):
    """Same function, same optimizer: the same weights after an epoch (up to rounding)."""
    keras.utils.set_random_seed(0)
    start = small().get_weights()
    trained = []
    for config in (KERAS_EXAMPLE, DEFAULT.replace(batch_size=32)):
        model = training.build_model(small, config)
        model.set_weights(start)
        trained.append(training.fit(model, splits, 2, config, verbose=0).model.get_weights())
    for a, b in zip(*trained, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_default_cuts_batches_into_two_loops_on_one_intra_op_thread():
    assert DEFAULT.model_kwargs["chains"] == 2 and DEFAULT.threads == (1, 2)
    assert training.FAST_SKIP.threads is None and "chains" not in training.FAST_SKIP.model_kwargs


def test_set_cpu_threads_reports_whether_the_pools_are_in_force():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has run an operation: its pools are fixed now
    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    assert training.set_cpu_threads(KERAS_EXAMPLE)  # None: TensorFlow's defaults, nothing to do
    assert training.set_cpu_threads(DEFAULT.replace(threads=current))
    other = (current[0] + 1, current[1] + 1)
    assert not training.set_cpu_threads(DEFAULT.replace(threads=other))
    assert (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    ) == current


def test_set_threads_rejects_negative_counts_and_reports_fixed_pools():
    import tensorflow as tf

    with pytest.raises(ValueError, match=">= 0"):
        training.set_threads(-1, 2)
    tf.constant(1.0) + 1.0  # the pools are fixed from here on
    current = (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )
    assert training.set_threads(*current)
    assert not training.set_threads(current[0] + 3, current[1])


def test_set_cpu_threads_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "from fmnist_rnn import training; import tensorflow as tf; "
        "ok = training.set_cpu_threads(); tf.constant(1.0) + 1.0; "
        "print(ok, tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1] / "notebooks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout.split() == ["True", "1", "2"], done.stderr[-2000:]
