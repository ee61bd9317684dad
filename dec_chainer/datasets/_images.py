"""What the image loaders share: pixel scaling, splits and the four-file IDX layout."""

import os

import numpy

from dec_chainer.datasets.idx import read_idx
from dec_chainer.errors import MissingFileError, UserError

#: Pixel scalings: ``'unit'`` maps raw 0-255 pixels to [0, 1]; ``'caffe'`` multiplies them by
#: 0.02 as the paper's reference Caffe code does (range [0, 5.1]); ``'raw'`` keeps 0-255.
SCALES = ('unit', 'caffe', 'raw')
SPLITS = ('all', 'train', 'test')

_IDX_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}


def check_split_and_scale(split, scale):
    if split not in SPLITS:
        raise UserError('unknown split {!r}; choose one of {}'.format(split, SPLITS))
    if scale not in SCALES:
        raise UserError('unknown scale {!r}; choose one of {}'.format(scale, SCALES))


def scale_pixels(raw, scale='unit', max_value=255.0):
    """Return ``raw`` pixels (values in 0..``max_value``) as float32 with the given scaling."""
    if scale not in SCALES:
        raise UserError('unknown scale {!r}; choose one of {}'.format(scale, SCALES))
    x = numpy.asarray(raw, dtype=numpy.float32)
    if scale == 'unit':
        return x * numpy.float32(1.0 / max_value)
    if scale == 'caffe':
        return x * numpy.float32(255.0 / max_value * 0.02)
    return x * numpy.float32(255.0 / max_value)


def _find(directory, stem):
    for name in (stem, stem + '.gz'):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise MissingFileError('{}: missing {} (or {}.gz)'.format(directory, stem, stem))


def read_idx_pair(directory, part):
    """Read one part (``'train'`` or ``'test'``) of a standard four-file IDX directory.

    Returns raw uint8 images of shape (n, rows * cols) and int64 labels.
    """
    image_stem, label_stem = _IDX_FILES[part]
    image_path, label_path = _find(directory, image_stem), _find(directory, label_stem)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or images.dtype != numpy.uint8:
        raise UserError('{}: expected uint8 images of shape (n, rows, cols); got {} {}'
                         .format(image_path, images.dtype, images.shape))
    if labels.ndim != 1:
        raise UserError('{}: expected 1-D labels; got shape {}'.format(
            label_path, labels.shape))
    if len(images) != len(labels):
        raise UserError('{} has {} images but {} has {} labels'.format(
            image_path, len(images), label_path, len(labels)))
    return images.reshape(len(images), -1), labels.astype(numpy.int64)


def select_split(parts, split):
    """Join ``{'train': (x, y), 'test': (x, y)}`` into the requested split."""
    names = ('train', 'test') if split == 'all' else (split,)
    x = numpy.concatenate([parts[n][0] for n in names])
    y = numpy.concatenate([parts[n][1] for n in names])
    return x, y


def load_idx_directory(directory, split='all', scale='unit'):
    """Load a directory of the four standard (Fashion-)MNIST IDX files."""
    check_split_and_scale(split, scale)
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise MissingFileError('IDX data directory not found: {}'.format(directory))
    names = ('train', 'test') if split == 'all' else (split,)
    raw, y = select_split({n: read_idx_pair(directory, n) for n in names}, split)
    return scale_pixels(raw, scale), y
