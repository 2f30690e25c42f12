"""The hardware rule: which LSTM, how many chains, which thread pools."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fmnist_rnn.performance.hardware import (
    MAX_CHAINS,
    FastPath,
    apply_threads,
    choose_fast_path,
    usable_cores,
)


def test_one_core_gets_one_chain_and_one_thread():
    path = choose_fast_path(cores=1, gpus=[])
    assert (path.implementation, path.chains, path.threads) == ("fast", 1, (1, 1))
    assert path.model_kwargs() == {"skip_blank": True}  # fast_skip_1thread in the benchmark


def test_two_cores_get_the_measured_setting():
    """Two chains on 1 intra-op / 2 inter-op threads: fast_skip_chains2_t1 in the benchmark."""
    path = choose_fast_path(cores=2, gpus=[])
    assert (path.implementation, path.chains, path.threads) == ("fast", 2, (1, 2))
    assert path.model_kwargs() == {"skip_blank": True, "chains": 2}


def test_eight_cores_get_one_chain_per_core():
    path = choose_fast_path(cores=8, gpus=[])
    assert (path.implementation, path.chains, path.threads) == ("fast", 8, (1, 8))


def test_many_cores_cap_the_chains_and_widen_each_operation():
    path = choose_fast_path(cores=4 * MAX_CHAINS, gpus=[])
    assert (path.chains, path.threads) == (MAX_CHAINS, (4, MAX_CHAINS))


def test_a_gpu_gets_keras_lstm_on_cudnn():
    path = choose_fast_path(cores=8, gpus=["/physical_device:GPU:0"])
    assert (path.implementation, path.chains, path.threads) == ("keras", 1, None)
    assert path.model_kwargs() == {}
    assert "cuDNN" in path.describe()


def test_defaults_read_this_machine():
    path = choose_fast_path()
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        assert path.implementation == "keras"
    else:
        assert path == choose_fast_path(cores=usable_cores(), gpus=[])
        assert str(usable_cores()) in path.reason or path.chains == 1


def test_zero_cores_is_an_error():
    with pytest.raises(ValueError, match="at least 1"):
        choose_fast_path(cores=0, gpus=[])


def test_describe_names_the_choice():
    text = choose_fast_path(cores=2, gpus=[]).describe()
    assert "2 chain(s)" in text and "1 intra-op / 2 inter-op" in text


def test_apply_threads_without_threads_changes_nothing():
    assert apply_threads(FastPath("keras", 1, None, "GPU")) is True


def test_apply_threads_in_a_fresh_process_then_too_late():
    """Before TensorFlow's first op the pools are set; after it, they stay and False is said."""
    code = (
        "import tensorflow as tf\n"
        "from fmnist_rnn.performance.hardware import FastPath, apply_threads\n"
        "print(apply_threads(FastPath('fast', 2, (1, 2), 'test')))\n"
        "tf.constant(1.0) + 1.0\n"
        "print(apply_threads(FastPath('fast', 1, (1, 1), 'test')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1] / "notebooks"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "False"]
