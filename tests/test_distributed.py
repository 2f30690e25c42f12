"""Multi-worker training on 127.0.0.1: equality with one process, resume after a kill, errors.

Every worker is a real process joined by ``MultiWorkerMirroredStrategy`` over
loopback ports chosen by binding to port 0. The model is a tiny MLP without
dropout, the data 256 real training images, 4 global batches of 64 per epoch.
Nothing is timed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import numpy as np
import pytest

from fmnist_rnn.performance import multiworker
from fmnist_rnn.performance.multiworker import Job, MultiWorkerError, WorkerFailed
from fmnist_rnn.performance.worker import epoch_dataset

EPOCHS, STEPS_PER_EPOCH, WORKERS = 3, 4, 2
KILL_AT_STEP = STEPS_PER_EPOCH + 2  # the third step of epoch 1: epoch 0 is backed up


def make_job(out_dir, **changes) -> Job:
    settings = dict(
        out_dir=str(out_dir),
        builder="mlp",
        model_kwargs={"hidden": 16, "dropout": 0.0},
        batch_per_replica=32,
        epochs=EPOCHS,
        train_size=32 * WORKERS * STEPS_PER_EPOCH,
        val_size=64,
        lr_scaling="none",
        seed=3,
        collective_timeout=60.0,
    )
    settings.update(changes)
    return Job(**settings)


@pytest.fixture(scope="module")
def env(data_dir):
    """Workers inherit the data folder (environment, not a patch of any code)."""
    previous = os.environ.get("FASHION_MNIST_DIR")
    os.environ["FASHION_MNIST_DIR"] = str(data_dir)
    yield
    if previous is None:
        del os.environ["FASHION_MNIST_DIR"]
    else:
        os.environ["FASHION_MNIST_DIR"] = previous


@pytest.fixture(scope="module")
def uninterrupted(env, tmp_path_factory) -> multiworker.Run:
    """Two workers, three epochs, with a backup folder, never interrupted (the CLI's path)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    job = make_job(root / "out", backup_dir=str(root / "backup"))
    argv = ["--workers", str(WORKERS), "--builder", job.builder, "--model-kwargs"]
    argv += [json.dumps(job.model_kwargs), "--batch-per-replica", str(job.batch_per_replica)]
    argv += ["--epochs", str(job.epochs), "--train-size", str(job.train_size)]
    argv += ["--val-size", str(job.val_size), "--lr-scaling", job.lr_scaling]
    argv += ["--seed", str(job.seed), "--backup-dir", job.backup_dir, "--out", job.out_dir]
    assert multiworker.main([*argv, "--timeout", "240"]) == 0
    assert not (root / "backup" / "worker-0").exists()  # finished: backup removed
    return multiworker.Run.load(job.out_dir)


def max_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert [x.shape for x in a] == [y.shape for y in b]
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


@pytest.mark.timeout(300)
def test_two_workers_agree_with_each_other_and_with_one_keras_process(uninterrupted):
    import keras

    from fmnist_rnn.data import load_splits
    from fmnist_rnn.models import get_builder

    for result in uninterrupted.results:
        assert result["replicas"] == WORKERS and result["global_batch"] == 64
        assert result["epochs_run"] == list(range(EPOCHS))
        assert result["steps_run"] == EPOCHS * STEPS_PER_EPOCH
    w0, w1 = uninterrupted.weights(0), uninterrupted.weights(1)
    assert max_difference(w0, w1) == 0.0  # one all-reduce, the same update on both

    # Independent computation: Keras's own train step, one process, the same global batches.
    job = make_job("unused")
    s = load_splits()
    x = (s.x_train[: job.train_size].astype(np.float32) / 255.0)[..., None]
    y = s.y_train[: job.train_size].astype(np.int64)
    keras.utils.set_random_seed(job.seed)
    model = get_builder(job.builder)(**job.model_kwargs)
    start = model.get_weights()
    model.compile(keras.optimizers.RMSprop(job.learning_rate), "sparse_categorical_crossentropy")
    losses = []
    for epoch in range(EPOCHS):
        batches = [model.train_on_batch(bx, by) for bx, by in epoch_dataset(x, y, 64, 3, epoch)]
        losses.append(float(np.mean(batches)))
    single = model.get_weights()
    assert max_difference(single, start) > 1e-3  # training did move the weights
    print(f"two workers vs one process: max |difference| {max_difference(w0, single):.2e}")
    assert max_difference(w0, single) < 1e-5
    np.testing.assert_allclose(uninterrupted.results[0]["history"]["loss"], losses, rtol=1e-4)


@pytest.mark.timeout(400)
def test_killed_worker_resumes_from_its_checkpoint_without_loss(uninterrupted, tmp_path):
    backup = tmp_path / "backup"
    killed = make_job(tmp_path / "killed", backup_dir=str(backup), kill_worker=1)
    killed.kill_at_step = KILL_AT_STEP
    with pytest.raises(WorkerFailed, match=r"^worker 1 killed by SIGKILL") as failed:
        multiworker.launch(killed, WORKERS, timeout=240)
    assert failed.value.failures[1] == -9  # worker 0 aborts or is stopped: either is fine
    for index in range(WORKERS):  # the last checkpoint: end of epoch 0
        assert (backup / f"worker-{index}" / "checkpoint").exists()

    resumed = multiworker.launch(
        make_job(tmp_path / "resumed", backup_dir=str(backup)), WORKERS, timeout=240
    )
    for result in resumed.results:
        assert result["epochs_run"] == [1, 2]  # epoch 0 restored, not repeated
        assert result["steps_run"] == (EPOCHS - 1) * STEPS_PER_EPOCH
    assert max_difference(resumed.weights(0), resumed.weights(1)) == 0.0
    gap = max_difference(resumed.weights(0), uninterrupted.weights(0))
    print(f"killed at step {KILL_AT_STEP}, resumed at epoch 1: max |difference| {gap:.2e}")
    assert gap < 1e-6
    assert not any(backup.iterdir())  # finished: backups removed


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not set"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]', "not valid JSON"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {}}', "only 'worker'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "0..0"),
    ],
)
def test_worker_with_malformed_tf_config_exits_with_the_error(env, tmp_path, text, message):
    (tmp_path / "job.json").write_text(json.dumps(make_job(tmp_path).__dict__))
    environment = dict(os.environ, TF_CONFIG=text, PYTHONPATH=multiworker.PACKAGE_PARENT)
    done = subprocess.run(
        [*multiworker.WORKER_COMMAND, "--job", str(tmp_path / "job.json")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(30)
def test_port_in_use_is_reported_before_anything_starts(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        addresses = [f"127.0.0.1:{port}", f"127.0.0.1:{multiworker.free_ports(1)[0]}"]
        with pytest.raises(MultiWorkerError, match=f"port {port} on 127.0.0.1 is already in use"):
            multiworker.launch(make_job(tmp_path), 2, addresses=addresses, timeout=10)
    assert not (tmp_path / "worker-0.log").exists()  # no worker was started


@pytest.mark.timeout(60)
def test_a_missing_peer_ends_in_the_launcher_timeout_not_a_hang(env, tmp_path):
    with pytest.raises(MultiWorkerError, match="not finished after 8 s"):
        multiworker.launch(make_job(tmp_path), 2, only=0, timeout=8)  # worker 1 never starts


@pytest.mark.timeout(30)
def test_zero_workers_is_an_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        multiworker.launch(make_job(tmp_path), 0)
    assert multiworker.main(["--workers", "0", "--out", str(tmp_path)]) == 2
    assert "workers must be at least 1" in capsys.readouterr().err


def test_free_ports_are_distinct():
    assert len(set(multiworker.free_ports(4))) == 4
