"""Import TensorFlow once, without the C++ start-up log lines it writes to stderr.

TensorFlow's native libraries print INFO lines (oneDNN, CUDA, CPU features) on
import and at device discovery, before any logging setting can take effect; in
a notebook they appear as a red block under the first cell. They carry no information for a reader,
so the package imports TensorFlow with file descriptor 2 pointed at /dev/null
for the duration of the import only. Errors raised by the import still
propagate as Python exceptions.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly() -> None:
    """Import ``tensorflow`` (and ``keras``) with their start-up chatter silenced."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery logs too (e.g. no CUDA driver)
