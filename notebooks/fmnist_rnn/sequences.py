"""Pixels scaled to [0, 1], and an image read as a sequence: by rows or columns (28 steps of
28 pixels) or pixel by pixel (784 steps of one); the models take ``(N, 28, 28, 1)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "IMAGE_SIZE",
    "as_columns",
    "as_image_tensor",
    "as_pixels",
    "as_rows",
    "scale",
]

IMAGE_SIZE = 28


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255, (N, 28, 28) or (28, 28), as float32 in [0, 1].

    Raises:
        ValueError: not uint8 (an already scaled array is never divided by 255 twice), or
            the wrong shape.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"scale() expects raw uint8 pixels of shape (N, 28, 28), got dtype "
            f"{images.dtype}; the array may already be scaled"
        )
    if images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE) or images.ndim not in (2, 3):
        raise ValueError(f"scale() expects shape (N, 28, 28) or (28, 28), got {images.shape}")
    return images.astype(np.float32) / np.float32(255.0)


def _checked(images: np.ndarray, name: str) -> np.ndarray:
    """Validate a scaled batch; accept (N, 28, 28) or (N, 28, 28, 1), return (N, 28, 28)."""
    images = np.asarray(images)
    if images.dtype != np.float32:
        raise ValueError(
            f"{name}() expects float32 images of shape (N, 28, 28) scaled to [0, 1] "
            f"(use scale()), got dtype {images.dtype}"
        )
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"{name}() expects shape (N, 28, 28) or (N, 28, 28, 1), got {images.shape}"
        )
    return images


def as_rows(images: np.ndarray) -> np.ndarray:
    """Rows as time steps: ``x_t`` is pixel row t (t = 1..28, top to bottom), (N, 28, 28)."""
    return _checked(images, "as_rows")


def as_columns(images: np.ndarray) -> np.ndarray:
    """Columns as time steps: ``x_t`` is pixel column t (left to right), (N, 28, 28)."""
    return np.ascontiguousarray(_checked(images, "as_columns").transpose(0, 2, 1))


def as_pixels(images: np.ndarray) -> np.ndarray:
    """Pixel by pixel in reading order (row-major): shape (N, 784, 1)."""
    images = _checked(images, "as_pixels")
    return images.reshape(len(images), IMAGE_SIZE * IMAGE_SIZE, 1)


def as_image_tensor(images: np.ndarray) -> np.ndarray:
    """The (N, 28, 28, 1) tensor the two-layer LSTM (and a CNN) takes."""
    return _checked(images, "as_image_tensor")[..., np.newaxis]
