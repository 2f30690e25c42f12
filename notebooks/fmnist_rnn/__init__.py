"""fmnist_rnn: the helper package of the book *Reading Fashion-MNIST with recurrent networks*.

Each module is named after a concept the book teaches: :mod:`~fmnist_rnn.data` (the
verified loader and the fixed splits), :mod:`~fmnist_rnn.sequences` (an image read as a
sequence), :mod:`~fmnist_rnn.profiles` (the ``full`` / ``smoke`` run profiles),
:mod:`~fmnist_rnn.models` and :mod:`~fmnist_rnn.training` (the models and one ``fit``),
:mod:`~fmnist_rnn.train` (the command that writes the committed checkpoints), and the
modules of single chapters (``gradients``, ``cells``, ``evaluation``, ...).

Importing the package does not import TensorFlow; the modules that need it import it.
``TF_CPP_MIN_LOG_LEVEL=2`` (unless already set) keeps TensorFlow's C++ INFO lines quiet.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .data import CLASS_NAMES, FashionMNISTError, load_fashion_mnist, load_splits
from .profiles import get_profile
from .seeding import set_seed
from .sequences import as_columns, as_image_tensor, as_pixels, as_rows, scale

__all__ = [
    "CLASS_NAMES",
    "FashionMNISTError",
    "as_columns",
    "as_image_tensor",
    "as_pixels",
    "as_rows",
    "get_profile",
    "load_fashion_mnist",
    "load_splits",
    "scale",
    "set_seed",
]
