"""Input checks shared by the data loaders, the trainers and the estimator.

Every check raises before any training starts, with a message that names the data (a file
path or an argument name) and the problem.
"""

import math

import numpy
from dec_chainer.errors import UserError

#: Rows are checked this many elements at a time, so checking a memory-mapped file larger
#: than memory needs no array of its size.
CHUNK_ELEMENTS = 1 << 24


def row_blocks(X, elements=CHUNK_ELEMENTS):
    """Consecutive row slices of ``X`` of about ``elements`` values each."""
    step = max(1, elements // max(1, X.shape[1] if X.ndim > 1 else 1))
    for start in range(0, X.shape[0], step):
        yield X[start:start + step]


def max_abs(X):
    """``max |x|`` over ``X``, a block of rows at a time."""
    return max(float(numpy.abs(block).max()) for block in row_blocks(X))


def value_range(X):
    """``(min x, max x)`` over ``X``, a block of rows at a time."""
    lows, highs = zip(*((float(block.min()), float(block.max())) for block in row_blocks(X)))
    return min(lows), max(highs)


#: What a run may do with the scale of its data (``DECConfig.rescale``).
RESCALES = ('none', 'max_abs')


def rescale_factor(top, rescale):
    """The factor a run multiplies its data by, from ``top = max |x|``: 1 for ``'none'``;
    for ``'max_abs'`` the power of two that brings ``top`` into (0.5, 1] (exact in floating
    point: the data's digits are kept; 1 for data already there, and for all-zero data)."""
    if rescale not in RESCALES:
        raise UserError('rescale must be one of {}; got {!r}'.format(RESCALES, rescale))
    if rescale == 'none' or not top > 0:
        return 1.0
    mantissa, exponent = math.frexp(top)  # top = mantissa * 2**exponent, 0.5 <= mantissa < 1
    if mantissa == 0.5:  # top is a power of two: scale it to 1, not to 0.5
        exponent -= 1
    return math.ldexp(1.0, -exponent)


def is_memory_mapped(a):
    """Whether ``a`` (or the array it views) is a memory-mapped file."""
    import mmap
    while a is not None:
        if isinstance(a, (numpy.memmap, mmap.mmap)):
            return True
        a = getattr(a, 'base', None)
    return False


def check_array(X, name='X', min_samples=1, dtype=numpy.float32):
    """Validate a data matrix and return it as a C-contiguous ``dtype`` array.

    Args:
        X: array-like of shape (n_samples, n_features), numeric.
        name (str): what to call ``X`` in error messages (an argument name or a file path).
        min_samples (int): fewest rows accepted (e.g. the number of clusters).
        dtype: the floating dtype to return (float32 or float64).

    Raises:
        ValueError: non-numeric values, a rank other than 2, an empty array, NaN or
            infinite values, or fewer than ``min_samples`` rows.
    """
    try:
        arr = numpy.asarray(X)
    except (ValueError, TypeError) as e:
        raise UserError('{}: cannot be read as an array: {}'.format(name, e)) from None
    if arr.dtype.kind not in 'biuf':
        if arr.dtype.kind == 'O':
            try:
                arr = arr.astype(numpy.float64)
            except (ValueError, TypeError):
                raise UserError(
                    '{} must be numeric; it holds non-numeric values (dtype object)'
                    .format(name)) from None
        else:
            raise UserError('{} must be numeric; got dtype {}'.format(name, arr.dtype))
    if arr.ndim != 2:
        raise UserError(
            '{} must be a 2-D array of shape (n_samples, n_features); got {}-D shape {}'
            .format(name, arr.ndim, arr.shape))
    if arr.size == 0:
        raise UserError('{} is empty: shape {}'.format(name, arr.shape))
    if arr.dtype.kind == 'f':  # a block of rows at a time: no array of X's size
        n_nan = n_inf = 0
        row, offset = None, 0
        for block in row_blocks(arr):
            finite = numpy.isfinite(block)
            if not finite.all():
                nan = int(numpy.isnan(block).sum())
                n_nan += nan
                n_inf += int(finite.size - finite.sum()) - nan
                if row is None:
                    row = offset + int(numpy.argwhere(~finite)[0, 0])
            offset += len(block)
        if row is not None:
            raise UserError(
                '{} contains {} NaN and {} infinite values (first in row {})'
                .format(name, n_nan, n_inf, row))
    if arr.shape[0] < min_samples:
        raise UserError(
            '{} has {} samples; at least {} are needed'.format(
                name, arr.shape[0], min_samples))
    with numpy.errstate(over='ignore'):  # overflow is checked (and named) just below
        out = numpy.ascontiguousarray(arr, dtype=dtype)  # a float32 memory map: no copy
    if out.dtype != arr.dtype and out.dtype.kind == 'f' and not numpy.isfinite(out).all():
        big = numpy.abs(arr[~numpy.isfinite(out)]).max()
        raise UserError('{} holds values too large for {} (|x| up to {:.3g}; the largest '
                         'is {:.3g}): rescale the data'.format(
                             name, out.dtype, float(big), float(numpy.finfo(out.dtype).max)))
    return out


def check_labels(y, n_samples, name='y'):
    """Validate a label vector of length ``n_samples`` and return it as int64."""
    arr = numpy.asarray(y)
    if arr.ndim != 1:
        raise UserError('{} must be 1-D; got shape {}'.format(name, arr.shape))
    if arr.shape[0] != n_samples:
        raise UserError('{} has {} labels for {} samples'.format(
            name, arr.shape[0], n_samples))
    if arr.dtype.kind not in 'biuf':
        raise UserError('{} must be integer labels; got dtype {}'.format(name, arr.dtype))
    if arr.dtype.kind == 'f':
        if not numpy.isfinite(arr).all() or (arr != numpy.round(arr)).any():
            raise UserError('{} must be integer labels; got non-integer values'.format(name))
    return arr.astype(numpy.int64)


def check_distinct_rows(X, n_clusters, name='X'):
    """``X`` must hold at least ``n_clusters`` distinct rows: identical (e.g. all-zero) rows
    cannot make that many clusters. Stops at the ``n_clusters``-th distinct row, which real
    data reaches at once."""
    seen = set()
    for row in X:
        seen.add(row.tobytes())
        if len(seen) >= n_clusters:
            return
    raise UserError('{} has {} distinct row(s), fewer than the {} clusters asked for: '
                     'identical rows cannot make more clusters than there are distinct '
                     'rows'.format(name, len(seen), n_clusters))


def check_n_clusters(n_clusters, n_samples=None, name='n_clusters'):
    """``n_clusters`` must be an integer >= 1 and, given ``n_samples``, at most that.

    One cluster is allowed, as scikit-learn's KMeans allows it: every point gets it, q and
    P are 1 and the DEC phase changes nothing.
    """
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, numpy.integer)):
        raise UserError('{} must be an integer; got {!r}'.format(name, n_clusters))
    if n_clusters < 1:
        raise UserError('{} must be at least 1; got {}'.format(name, n_clusters))
    if n_samples is not None and n_samples < n_clusters:
        raise UserError('too few samples for the clusters: {} samples, {}={}'.format(
            n_samples, name, n_clusters))
    return int(n_clusters)
