"""fmnist_rnn: the helper package of the book *Reading Fashion-MNIST with recurrent networks*.

Each module is named after a concept the book teaches:

* :mod:`fmnist_rnn.data`: the verified Fashion-MNIST loader and the fixed splits;
* :mod:`fmnist_rnn.sequences`: scaling, and images read as sequences;
* :mod:`fmnist_rnn.profiles`: the ``full`` / ``smoke`` run profiles;
* :mod:`fmnist_rnn.seeding`: one call that seeds every random generator;
* :mod:`fmnist_rnn.plots`: the figures the chapters share.

Importing the package imports TensorFlow and Keras once, with their C++ start-up
log lines silenced (see :mod:`fmnist_rnn._quiet_import`).
"""

from ._quiet_import import import_tensorflow_quietly
from .data import CLASS_NAMES, FashionMNISTError, load_fashion_mnist, load_splits
from .profiles import get_profile
from .seeding import set_seed
from .sequences import as_columns, as_image_tensor, as_pixels, as_rows, scale

# None of the modules above imports TensorFlow at import time; do it here, quietly.
import_tensorflow_quietly()

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
