"""Users' own data from ``.npy``, ``.npz`` or ``.csv``/``.tsv`` files."""

import csv
import os
import warnings
import zipfile
import zlib

import numpy

from dec_chainer.validation import check_array, check_labels
from dec_chainer.errors import MissingFileError, UserError

_NPZ_DATA_KEYS = ('X', 'x', 'data', 'features')
_NPZ_LABEL_KEYS = ('y', 'labels', 'label', 'target', 'targets')
SUFFIXES = ('.npy', '.npz', '.csv', '.tsv')


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_csv(path, delimiter):
    with open(path, newline='') as f:
        first = next(csv.reader(f, delimiter=delimiter), None)
    if first is None:
        raise UserError('{}: the file is empty'.format(path))
    header = None
    if not all(_is_number(field) for field in first):
        header = [field.strip() for field in first]
    try:
        with warnings.catch_warnings():  # "input contained no data": reported below
            warnings.simplefilter('ignore', UserWarning)
            data = numpy.loadtxt(path, delimiter=delimiter, skiprows=int(header is not None),
                                 dtype=numpy.float64, ndmin=2)
    except ValueError as e:
        raise UserError('{}: non-numeric or ragged data ({})'.format(path, e)) from None
    return data, header


def _split_label_column(data, label_column, header, path):
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            raise UserError('{}: no column named {!r} (header: {})'.format(
                path, label_column, header))
        label_column = header.index(label_column)
    n_columns = data.shape[1]
    if not -n_columns <= label_column < n_columns:
        raise UserError('{}: label_column {} is out of range for {} columns'.format(
            path, label_column, n_columns))
    label_column %= n_columns
    y = data[:, label_column]
    X = numpy.delete(data, label_column, axis=1)
    return X, y


def load_array(path, label_column=None, delimiter=None):
    """Load a data matrix (and optional labels) from a file.

    * ``.npy``: a 2-D array; labels only with ``label_column``. Memory-mapped: a float32
      C-order file stays on disk (training reads the rows it needs, so a file larger than
      memory clusters; other dtypes are converted in memory).
    * ``.npz``: the data under ``X``/``x``/``data``/``features`` (or the only array) and the
      labels, if any, under ``y``/``labels``/``label``/``target``/``targets``.
    * ``.csv``/``.tsv``: numeric values with an optional header row (detected); labels from
      ``label_column``, an index (negative counts from the end) or a header name, or else
      from the header's column named ``y``/``label``/``labels``/``target``/``targets`` (as
      in an ``.npz``; any letter case), which is then not a feature.

    Returns:
        tuple: ``X`` float32 of shape (n, d) and ``y`` int64 of shape (n,) or None.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unknown suffix, unreadable file, non-numeric values, a rank other than 2,
            an empty array, NaN or infinite values; the message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError('data file not found: {}'.format(path))
    suffix = os.path.splitext(path)[1].lower()
    y = None
    header = None
    if suffix in ('.npy', '.npz') and os.path.getsize(path) == 0:
        raise UserError('{}: the file is empty (0 bytes)'.format(path))
    if suffix == '.npy':
        try:
            data = numpy.load(path, mmap_mode='r', allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise UserError('{}: not a readable .npy array ({})'.format(path, e)) from None
        if not isinstance(data, numpy.ndarray):
            raise UserError('{}: not a .npy array but a .npz archive; name it .npz'.format(
                path))
    elif suffix == '.npz':
        try:
            with open(path, 'rb') as fid:
                f = numpy.load(fid, allow_pickle=False)
                if not isinstance(f, numpy.lib.npyio.NpzFile):
                    raise UserError('it holds a single {} array, not an archive: name it '
                                     '.npy'.format(getattr(f, 'shape', '')))
                with f:
                    arrays = {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise UserError('{}: not a readable .npz archive ({})'.format(path, e)) from None
        data_key = next((k for k in _NPZ_DATA_KEYS if k in arrays), None)
        if data_key is None:
            if len(arrays) != 1:
                raise UserError('{}: cannot tell the data array among {}; name it one of {}'
                                 .format(path, sorted(arrays), _NPZ_DATA_KEYS))
            data_key = next(iter(arrays))
        data = arrays[data_key]
        label_key = next((k for k in _NPZ_LABEL_KEYS if k in arrays), None)
        if label_key is not None and label_column is None:
            y = arrays[label_key]
    elif suffix in ('.csv', '.tsv'):
        if delimiter is None:
            delimiter = '\t' if suffix == '.tsv' else ','
        data, header = _read_csv(path, delimiter)
        if label_column is None and header is not None:
            label_column = next((name for name in header
                                 if name.lower() in _NPZ_LABEL_KEYS), None)
    else:
        raise UserError('{}: unsupported file type {!r}; use one of {}'.format(
            path, suffix, SUFFIXES))

    if label_column is not None:
        data = check_array(data, name=path, dtype=numpy.float64)
        data, y = _split_label_column(data, label_column, header, path)
    X = check_array(data, name=path)
    if y is not None:
        y = check_labels(y, X.shape[0], name='{} labels'.format(path))
    return X, y
