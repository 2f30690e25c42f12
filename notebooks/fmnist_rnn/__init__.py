"""fmnist_rnn: the helper package of the book *Reading Fashion-MNIST with recurrent networks*.

One module per concept the book teaches (``data``, ``sequences``, ``models``, ``training``,
``gradients``, ``cells``, ...). Importing the package does not import TensorFlow;
``TF_CPP_MIN_LOG_LEVEL=2`` (unless set) keeps TensorFlow's C++ INFO lines quiet.
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
