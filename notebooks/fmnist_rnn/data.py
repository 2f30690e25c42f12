"""The official Fashion-MNIST files, verified by MD5 before a byte is parsed, and the splits.

The files come from the folder ``FASHION_MNIST_DIR`` when it is set (offline machines, CI),
otherwise from Keras's cache (``$KERAS_HOME/datasets/fashion-mnist``, where
``keras.datasets.fashion_mnist`` keeps them), downloaded once. A missing or altered file
raises :class:`FashionMNISTError` naming the file and the fix.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from .profiles import Profile, get_profile

__all__ = [
    "CLASS_NAMES",
    "MD5SUMS",
    "FashionMNISTError",
    "Splits",
    "data_source",
    "load_fashion_mnist",
    "load_splits",
    "stratified_subset",
    "train_val_split",
]

#: Label ``k`` is ``CLASS_NAMES[k]`` (order of the dataset's README).
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: MD5 checksums published in the official Fashion-MNIST README.
MD5SUMS: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_CACHE_SUBDIR = "datasets/fashion-mnist"  # where keras.datasets.fashion_mnist keeps them
ENV_DIR = "FASHION_MNIST_DIR"
VAL_SIZE = 5000
SPLIT_SEED = 0


class FashionMNISTError(RuntimeError):
    """The official Fashion-MNIST files could not be found, fetched or verified."""


def data_source() -> str:
    """Describe where :func:`load_fashion_mnist` reads from, for printing."""
    folder = os.environ.get(ENV_DIR)
    if folder:
        return f"local folder {folder} (from ${ENV_DIR})"
    return "Keras cache ($KERAS_HOME/datasets/fashion-mnist), downloaded on first use"


def _verify(path: Path, fix: str) -> None:
    """Raise :class:`FashionMNISTError` unless ``path`` is the official file of its name."""
    if not path.is_file():
        raise FashionMNISTError(f"Fashion-MNIST file {path} is missing. {fix}")
    actual, expected = hashlib.md5(path.read_bytes()).hexdigest(), MD5SUMS[path.name]
    if actual != expected:
        raise FashionMNISTError(
            f"Fashion-MNIST file {path} is corrupt or not the official file: "
            f"MD5 {actual}, expected {expected} ({path.stat().st_size} bytes). {fix}"
        )


def _local_files(folder: str) -> dict[str, Path]:
    root = Path(folder).expanduser()
    fix = (
        f"Put the four official files ({', '.join(MD5SUMS)}) in that folder, "
        f"or unset {ENV_DIR} to download them through Keras."
    )
    if not root.is_dir():
        raise FashionMNISTError(f"{ENV_DIR}={folder!r} is not an existing folder. {fix}")
    for name in MD5SUMS:
        _verify(root / name, fix)
    return {name: root / name for name in MD5SUMS}


def _keras_files() -> dict[str, Path]:
    """The files in Keras's cache, downloaded if absent or if their MD5 is wrong."""
    import keras  # imported lazily: TensorFlow is slow to import

    paths = {}
    for name, md5 in MD5SUMS.items():
        try:
            paths[name] = Path(
                keras.utils.get_file(
                    name, KERAS_ORIGIN + name, file_hash=md5, cache_subdir=KERAS_CACHE_SUBDIR
                )
            )
        except Exception as error:  # network and hash errors come in many classes
            raise FashionMNISTError(
                f"Could not download or verify Fashion-MNIST file {name} (origin "
                f"{KERAS_ORIGIN}, Keras cache $KERAS_HOME/{KERAS_CACHE_SUBDIR}; a cached copy "
                f"with the wrong MD5 is downloaded again): {error}. Connect to the internet, "
                f"or set {ENV_DIR} to a folder that holds the four official .gz files."
            ) from error
    return paths


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse one gzipped IDX file (the format of the MNIST family) into uint8."""
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x0800 + ndim:
        raise FashionMNISTError(f"{path} is not an IDX file of rank {ndim}.")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((x_train, y_train), (x_test, y_test))``, uint8, as ``fashion_mnist.load_data()``.

    Raises:
        FashionMNISTError: a file is missing, corrupt, or cannot be downloaded.
    """
    folder = os.environ.get(ENV_DIR)
    paths = _local_files(folder) if folder else _keras_files()
    x_train = _read_idx(paths["train-images-idx3-ubyte.gz"], 3)
    y_train = _read_idx(paths["train-labels-idx1-ubyte.gz"], 1)
    x_test = _read_idx(paths["t10k-images-idx3-ubyte.gz"], 3)
    y_test = _read_idx(paths["t10k-labels-idx1-ubyte.gz"], 1)
    return (x_train, y_train), (x_test, y_test)


def stratified_subset(
    x: np.ndarray, y: np.ndarray, size: int | None, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` examples of ``(x, y)`` with the class balance of ``y`` (all for ``None``)."""
    if size is None or size >= len(y):
        return x, y
    if size < 1:
        raise ValueError(f"subset size must be at least 1, got {size}")
    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=size, stratify=y, random_state=seed)
    return x_sub, y_sub


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_size: int = VAL_SIZE, seed: int = SPLIT_SEED
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A fixed, stratified train / validation split: 55,000 / 5,000 with the defaults."""
    x_tr, x_val, y_tr, y_val = train_test_split(
        x, y, test_size=val_size, stratify=y, random_state=seed
    )
    return (x_tr, y_tr), (x_val, y_val)


@dataclass(frozen=True)
class Splits:
    """Train / validation / test arrays (uint8 images, uint8 labels)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """Number of images in each split."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def load_splits(profile: Profile | None = None) -> Splits:
    """The fixed 55k/5k/10k split, cut to what ``profile`` (default: the active one) allows."""
    profile = profile or get_profile()
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    (x_tr, y_tr), (x_val, y_val) = train_val_split(x_train, y_train)
    x_tr, y_tr = stratified_subset(x_tr, y_tr, profile.max_train)
    x_val, y_val = stratified_subset(x_val, y_val, profile.max_val)
    x_te, y_te = stratified_subset(x_test, y_test, profile.max_test)
    return Splits(x_tr, y_tr, x_val, y_val, x_te, y_te)
