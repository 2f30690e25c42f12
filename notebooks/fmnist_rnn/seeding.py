"""Reproducibility: one call seeds every random number generator a chapter uses."""

from __future__ import annotations

__all__ = ["set_seed"]


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow (:func:`keras.utils.set_random_seed`).

    Numbers then repeat on the same machine and versions, up to the last bits of
    multi-threaded CPU kernels.
    """
    import keras  # imported lazily: TensorFlow is slow to import

    keras.utils.set_random_seed(seed)
