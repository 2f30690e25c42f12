"""Shared fixtures: the official Fashion-MNIST files, found where the book's loader finds them.

Order: ``FASHION_MNIST_DIR`` if set; else ``../shared/fashion-mnist`` beside the repository
when present; else Keras's cache (``$KERAS_HOME/datasets/fashion-mnist``, default
``~/.keras``), downloading the files into it when missing, exactly as
``fmnist_rnn.load_fashion_mnist()`` does. The folder is located once, before the first test
runs, and only when a collected test or notebook needs the data; without it the run stops
at once with one message that says what to set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fmnist_rnn.data import ENV_DIR, KERAS_CACHE_SUBDIR, KERAS_ORIGIN, MD5SUMS

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "fashion-mnist"
DATA_KEY = pytest.StashKey[Path]()
NO_DATA = 4  # pytest's exit code for a usage error


def _has_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MD5SUMS)


def _keras_cache() -> Path:
    """The Keras cache folder with the four files, downloaded there when missing."""
    from keras.utils import get_file  # imported only here: TensorFlow is slow to import

    folder = None
    for name, md5 in MD5SUMS.items():
        path = get_file(
            name, origin=KERAS_ORIGIN + name, cache_subdir=KERAS_CACHE_SUBDIR, file_hash=md5
        )
        folder = Path(path).parent
    return folder


def find_data() -> Path:
    """The folder with the four official files, or a ``pytest.exit`` saying what to set."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        folder = Path(configured).expanduser()
        if not _has_files(folder):
            pytest.exit(
                f"{ENV_DIR}={configured} does not hold the four official Fashion-MNIST files "
                f"({', '.join(MD5SUMS)}). Point it at the folder that does, or unset it to "
                "use Keras's download cache.",
                returncode=NO_DATA,
            )
        return folder
    if _has_files(SHARED_DATA):
        return SHARED_DATA
    try:
        return _keras_cache()
    except Exception as error:  # network errors come in many classes
        pytest.exit(
            f"The Fashion-MNIST files are needed and could not be found or downloaded "
            f"({type(error).__name__}: {error}). Set {ENV_DIR} to a folder with the four "
            f"official files ({', '.join(MD5SUMS)}), or put them in "
            f"~/.keras/{KERAS_CACHE_SUBDIR}, or connect to the internet once.",
            returncode=NO_DATA,
        )


def _needs_data(item: pytest.Item) -> bool:
    return "data_dir" in getattr(item, "fixturenames", ()) or item.path.suffix == ".ipynb"


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected what will not run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if any(map(_needs_data, items)):
        folder = find_data()
        config.stash[DATA_KEY] = folder
        if folder == SHARED_DATA:
            # The notebooks executed in this run (nbmake) read the same files.
            os.environ.setdefault(ENV_DIR, str(folder))


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    """The folder with the four official files (see the module's docstring)."""
    return pytestconfig.stash.get(DATA_KEY, None) or find_data()


@pytest.fixture
def data_copy(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the four files, selected through ``FASHION_MNIST_DIR``."""
    copy = tmp_path / "fashion-mnist"
    copy.mkdir()
    for name in MD5SUMS:
        shutil.copyfile(data_dir / name, copy / name)
    monkeypatch.setenv(ENV_DIR, str(copy))
    return copy
