"""The files of a run directory: written atomically, read without ever unpickling.

Every file a run writes goes to a temporary name in the same directory and is renamed into
place (``os.replace``, atomic on POSIX), so a kill or a full disk never leaves a truncated
file under the final name. Every ``.npz`` is read with ``allow_pickle=False``: a run
directory may be shared or downloaded, and an object array planted in it must be refused,
not executed (Chainer's own ``serializers.load_npz`` allows pickles).
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import zipfile

import numpy

from chainer import serializers
from dec_chainer.errors import UserError


#: The suffix of :func:`atomic_write`'s temporary files (``.NAME.XXXXXXXX.tmp``).
TMP_SUFFIX = '.tmp'

#: What a write killed midway leaves in a directory: :func:`atomic_write`'s temporary file,
#: or the temporary directory of Chainer's LogReport (``log`` + 8 characters) or snapshot
#: writer (``tmpsnapshot_iter_N`` + 8).
_LEFTOVER_FILE = re.compile(r'^\..+\.[a-z0-9_]{8}' + re.escape(TMP_SUFFIX) + '$')
_LEFTOVER_DIR = re.compile(r'^(log|tmpsnapshot_iter_\d+)[a-z0-9_]{8}$')


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_leftovers(directory):
    """Remove what writes killed midway left under ``directory`` (see ``_LEFTOVER_*``);
    call it only while holding the directory. Returns the paths removed."""
    removed = []
    for root, dirs, files in os.walk(directory):
        for name in list(dirs):
            if _LEFTOVER_DIR.match(name):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
                dirs.remove(name)
                removed.append(os.path.join(root, name))
        for name in files:
            if _LEFTOVER_FILE.match(name):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, name))
                removed.append(os.path.join(root, name))
    return removed


@contextlib.contextmanager
def atomic_write(path, mode='w'):
    """Open a temporary file beside ``path``; on success rename it to ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix=TMP_SUFFIX,
                               dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 is for its own use, not the file's
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def copy(src, dst):
    """``shutil.copyfile``, atomically."""
    with open(src, 'rb') as fin, atomic_write(dst, 'wb') as fout:
        shutil.copyfileobj(fin, fout)


def _json_default(o):
    """NumPy scalars as numbers; anything else JSON cannot hold as its ``str``."""
    return o.item() if isinstance(o, numpy.generic) else str(o)


def write_json(path, data, indent=2, **kwargs):
    with atomic_write(path, 'w') as f:
        json.dump(data, f, indent=indent, default=_json_default, **kwargs)


def read_json(path):
    """The JSON file ``path``; a damaged one is a ``ValueError`` naming it."""
    with open(path) as f:
        try:
            return json.load(f)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise UserError('{} is not readable JSON ({}); delete it to recompute what it '
                             'held'.format(path, e)) from None


def read_arrays(path, keys=None):
    """``{key: array}`` of the ``.npz`` file ``path`` (all of them, or those of ``keys`` it
    holds), read without pickles; a damaged file is a ``ValueError`` naming it."""
    with open_npz(path) as npz:
        try:
            return {k: npz[k] for k in (npz.files if keys is None else keys)
                    if k in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            if 'allow_pickle' in str(e):
                raise _pickled(path) from None
            raise UserError('{} is not a readable .npz file ({}); delete it to recompute '
                             'what it held'.format(path, e)) from None


def _pickled(path):
    return UserError('{} holds pickled Python objects; dec_chainer never unpickles files of '
                      'a run directory (refusing to load it)'.format(path))


def save_npz_uncompressed(file, obj):
    """``chainer.serializers.save_npz`` without deflate: it would shrink a fine-tuning
    snapshot of trained float32 weights (27 MB, one every 2,000 iterations) by 8 % in 0.8 s,
    where storing it takes 0.01 s."""
    serializers.save_npz(file, obj, compression=False)


def save_npz(path, obj):
    """:func:`save_npz_uncompressed`, atomically."""
    with atomic_write(path, 'wb') as f:
        save_npz_uncompressed(f, obj)


def savez(path, **arrays):
    """``numpy.savez``, atomically."""
    with atomic_write(path, 'wb') as f:
        numpy.savez(f, **arrays)


def open_npz(path):
    """``numpy.load`` of an ``.npz`` without pickles; a clear error for a bad file."""
    fid = open(path, 'rb')
    try:
        npz = numpy.load(fid, allow_pickle=False)
        if not isinstance(npz, numpy.lib.npyio.NpzFile):
            raise UserError('not an .npz archive')
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        fid.close()
        raise UserError('{} is not a readable .npz file ({}); delete it to recompute what '
                         'it held'.format(path, e)) from None
    npz.fid = fid  # closed with the archive (numpy closes only files it opened itself)
    return npz


def load_npz(path, obj, strict=True):
    """``chainer.serializers.load_npz`` (models, optimizers, trainer snapshots) with
    ``allow_pickle=False``: a file holding object arrays is refused, never unpickled."""
    with open_npz(path) as npz:
        try:
            serializers.NpzDeserializer(npz, strict=strict).load(obj)
        except ValueError as e:
            if 'allow_pickle' in str(e):
                raise _pickled(path) from None
            raise
        except (zipfile.BadZipFile, EOFError, KeyError) as e:
            raise UserError('{} is truncated or does not hold what this run expects ({}); '
                             'delete it to recompute what it held'.format(path, e)) from None


def new_array(directory, name, shape, dtype):
    """A zeroed array of ``shape``: in memory when ``directory`` is None, else the
    memory-mapped file ``directory/name.npy`` (a run on data larger than memory keeps its
    per-row arrays there, as file pages the kernel can write back and evict)."""
    if directory is None:
        return numpy.zeros(shape, dtype)
    os.makedirs(directory, exist_ok=True)
    return numpy.lib.format.open_memmap(os.path.join(directory, name + '.npy'), mode='w+',
                                        dtype=dtype, shape=shape)
