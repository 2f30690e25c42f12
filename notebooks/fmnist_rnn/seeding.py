"""Reproducibility: one call seeds every random number generator a chapter uses."""

from __future__ import annotations

__all__ = ["set_seed"]


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy's global generator and TensorFlow.

    A thin wrapper around :func:`keras.utils.set_random_seed`, which seeds all
    three, so that a chapter's numbers repeat from run to run (on the same
    machine and library versions; multi-threaded CPU kernels may still differ
    in the last bits).
    """
    import keras  # imported lazily: TensorFlow is slow to import

    keras.utils.set_random_seed(seed)
