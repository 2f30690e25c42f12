"""The loader: the official data, verified, and a clear error for every way it can fail."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fmnist_rnn import data
from fmnist_rnn.data import (
    CLASS_NAMES,
    ENV_DIR,
    MD5SUMS,
    FashionMNISTError,
    load_fashion_mnist,
    load_splits,
    stratified_subset,
    train_val_split,
)
from fmnist_rnn.profiles import get_profile


@pytest.fixture(scope="module")
def dataset(data_dir: Path):
    previous = os.environ.get(ENV_DIR)
    os.environ[ENV_DIR] = str(data_dir)
    try:
        yield load_fashion_mnist()
    finally:
        if previous is None:
            del os.environ[ENV_DIR]
        else:
            os.environ[ENV_DIR] = previous


def test_shapes_and_dtypes(dataset) -> None:
    (x_train, y_train), (x_test, y_test) = dataset
    assert x_train.shape == (60000, 28, 28)
    assert y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28)
    assert y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8


def test_class_balance_and_labels(dataset) -> None:
    (_, y_train), (_, y_test) = dataset
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[y_train[0]] == "Ankle boot"  # the dataset's famous first image


def test_pixel_statistics_identify_fashion_mnist(dataset) -> None:
    (x_train, _), (x_test, _) = dataset
    # The published training-set mean of Fashion-MNIST; MNIST's is 0.1307.
    assert abs(x_train.mean() / 255.0 - 0.2860) < 1e-4
    assert x_train.max() == 255 and x_train.min() == 0
    # Train and test are different images: no test image is a training image.
    train_hashes = {img.tobytes() for img in x_train[:5000]}
    assert not any(img.tobytes() in train_hashes for img in x_test[:1000])


def test_idx_parsing_matches_raw_bytes(data_dir: Path, dataset) -> None:
    """Independent check of the parser: the IDX header and the payload, read by hand."""
    (x_train, y_train), _ = dataset
    with gzip.open(data_dir / "train-labels-idx1-ubyte.gz", "rb") as handle:
        raw = handle.read()
    assert int.from_bytes(raw[:4], "big") == 2049
    assert int.from_bytes(raw[4:8], "big") == 60000
    assert list(raw[8:18]) == y_train[:10].tolist()
    with gzip.open(data_dir / "train-images-idx3-ubyte.gz", "rb") as handle:
        raw = handle.read()
    assert raw[16 : 16 + 784] == x_train[0].tobytes()


def test_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(FashionMNISTError, match="not an existing folder"):
        load_fashion_mnist()


def test_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    with pytest.raises(FashionMNISTError, match=r"train-images-idx3-ubyte\.gz is missing"):
        load_fashion_mnist()


@pytest.mark.parametrize("name", sorted(MD5SUMS))
def test_missing_file(data_copy: Path, name: str) -> None:
    (data_copy / name).unlink()
    with pytest.raises(FashionMNISTError, match=rf"{name} is missing.*Put the four"):
        load_fashion_mnist()


def test_truncated_file(data_copy: Path) -> None:
    path = data_copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(FashionMNISTError, match=r"t10k-images-idx3-ubyte\.gz is corrupt"):
        load_fashion_mnist()


def test_one_byte_changed(data_copy: Path) -> None:
    path = data_copy / "train-labels-idx1-ubyte.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(FashionMNISTError, match=r"train-labels-idx1-ubyte\.gz is corrupt.*MD5"):
        load_fashion_mnist()


def test_mnist_lookalike_is_refused(data_copy: Path) -> None:
    """A well-formed IDX file that is not the official one (the MNIST mix-up) is refused."""
    labels = np.zeros(60000, dtype=np.uint8)
    header = (2049).to_bytes(4, "big") + (60000).to_bytes(4, "big")
    with gzip.open(data_copy / "train-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(header + labels.tobytes())
    with pytest.raises(FashionMNISTError, match="not the official file"):
        load_fashion_mnist()


def _load_through_keras(keras_home: Path) -> subprocess.CompletedProcess:
    """Load in a fresh process with no FASHION_MNIST_DIR, Keras's cache in ``keras_home``
    and every download failing at once (a proxy on a closed local port)."""
    env = {k: v for k, v in os.environ.items() if k != ENV_DIR}
    env.update(KERAS_HOME=str(keras_home), https_proxy="http://127.0.0.1:9", no_proxy="")
    code = (
        "import numpy as np, keras\n"
        "from fmnist_rnn import FashionMNISTError, load_fashion_mnist\n"
        "try:\n    ours = load_fashion_mnist()\n"
        "except FashionMNISTError as error:\n    print('ERROR', error)\n    raise SystemExit\n"
        "theirs = keras.datasets.fashion_mnist.load_data()\n"
        "same = [np.array_equal(a, b) and a.dtype == b.dtype\n"
        "        for a, b in zip((*ours[0], *ours[1]), (*theirs[0], *theirs[1]))]\n"
        "print('SAME', all(same))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1] / "notebooks",  # importable without an install
        timeout=300,
    )


def test_keras_cache_is_used_verified_and_shared_with_keras(tmp_path: Path, data_dir: Path) -> None:
    """Files in Keras's cache load without a download, give the same arrays as
    ``keras.datasets.fashion_mnist.load_data()``, and a bad cached file is named."""
    cache = tmp_path / "keras-home" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    for name in MD5SUMS:
        shutil.copyfile(data_dir / name, cache / name)
    done = _load_through_keras(tmp_path / "keras-home")
    assert done.stdout.strip().endswith("SAME True"), done.stdout + done.stderr[-2000:]

    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    done = _load_through_keras(tmp_path / "keras-home")
    assert "ERROR Could not download or verify Fashion-MNIST file t10k-labels" in done.stdout
    assert ENV_DIR in done.stdout


def test_no_folder_and_no_network_is_one_clear_error(tmp_path: Path) -> None:
    done = _load_through_keras(tmp_path / "empty-keras-home")
    assert "ERROR Could not download or verify Fashion-MNIST file" in done.stdout
    assert f"set {ENV_DIR} to a folder" in done.stdout


def test_train_val_split_is_fixed_and_stratified(dataset) -> None:
    (x, y), _ = dataset
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x, y)
    assert len(y_tr) == 55000 and len(y_val) == 5000
    assert np.bincount(y_val, minlength=10).tolist() == [500] * 10
    (_, _), (x_val2, _) = train_val_split(x, y)
    assert np.array_equal(x_val, x_val2)
    # Disjoint: no validation image is also a training image (by position in the source).
    seen = {img.tobytes() for img in x_tr[:20000]}
    assert sum(img.tobytes() in seen for img in x_val) < 5  # the dataset has a few duplicates


def test_stratified_subset(dataset) -> None:
    (x, y), _ = dataset
    x_sub, y_sub = stratified_subset(x, y, 1000)
    assert x_sub.shape == (1000, 28, 28)
    assert np.bincount(y_sub, minlength=10).tolist() == [100] * 10
    assert stratified_subset(x, y, None)[0] is x
    with pytest.raises(ValueError, match="at least 1"):
        stratified_subset(x, y, 0)


def test_load_splits_follows_profile(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, str(data_dir))
    smoke = load_splits(get_profile("smoke"))
    assert smoke.sizes() == {"train": 1500, "val": 500, "test": 500}
    assert np.bincount(smoke.y_test, minlength=10).tolist() == [50] * 10
    full = load_splits(get_profile("full"))
    assert full.sizes() == {"train": 55000, "val": 5000, "test": 10000}


def test_data_source_describes_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DIR, "/some/folder")
    assert "/some/folder" in data.data_source()
    monkeypatch.delenv(ENV_DIR)
    assert "Keras cache" in data.data_source()
