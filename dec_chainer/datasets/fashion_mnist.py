"""Fashion-MNIST from IDX files; by default those of Debian's ``dataset-fashion-mnist``."""

import os

from dec_chainer.datasets import _images
from dec_chainer.errors import MissingFileError

#: Where Debian's ``dataset-fashion-mnist`` package puts the four IDX files.
DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'

CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
               'Sneaker', 'Bag', 'Ankle boot')


def load_fashion_mnist(path=None, split='all', scale='unit'):
    """Load Fashion-MNIST (70,000 images of 10 clothing classes, 28 x 28).

    Args:
        path (str): a directory of the four standard IDX files; default
            :data:`DEBIAN_FASHION_MNIST_DIR` (``apt-get install dataset-fashion-mnist``).
        split (str): ``'all'`` (train then test), ``'train'`` or ``'test'``.
        scale (str): ``'unit'``, ``'caffe'`` or ``'raw'`` (see :func:`load_mnist`).

    Returns:
        tuple: ``X`` float32 of shape (n, 784) and ``y`` int64 of shape (n,).
    """
    path = DEBIAN_FASHION_MNIST_DIR if path is None else os.fspath(path)
    if not os.path.isdir(path):
        raise MissingFileError(
            'Fashion-MNIST directory not found: {} (install Debian\'s dataset-fashion-mnist '
            'or pass path= a directory of the four IDX files)'.format(path))
    return _images.load_idx_directory(path, split, scale)
