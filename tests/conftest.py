"""Shared fixtures: the official Fashion-MNIST files, located as CI and readers do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fmnist_rnn.data import ENV_DIR, MD5SUMS

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "fashion-mnist"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the four official files (``FASHION_MNIST_DIR`` or ``../shared``)."""
    folder = Path(os.environ.get(ENV_DIR) or SHARED_DATA)
    if not all((folder / name).is_file() for name in MD5SUMS):
        pytest.fail(
            f"the official Fashion-MNIST files are not in {folder}; "
            f"set {ENV_DIR} to the folder that holds them"
        )
    return folder


@pytest.fixture
def data_copy(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the four files, selected through ``FASHION_MNIST_DIR``."""
    copy = tmp_path / "fashion-mnist"
    copy.mkdir()
    for name in MD5SUMS:
        shutil.copyfile(data_dir / name, copy / name)
    monkeypatch.setenv(ENV_DIR, str(copy))
    return copy
