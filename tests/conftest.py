import gzip
import os
import struct
import subprocess
import sys

import numpy
import pytest

import dec_chainer  # noqa: F401  (applies the compatibility patches before Chainer)
from dec_chainer.datasets import idx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def gpu_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    if gpu_available():
        return
    skip = pytest.mark.skip(reason='no CUDA GPU with CuPy on this machine')
    for item in items:
        if 'gpu' in item.keywords:
            item.add_marker(skip)


def quiet(log=None, device='@numpy'):
    """The run context of a test's fit: no progress bars, the log to ``log`` (or nowhere)."""
    from dec_chainer.training import RunContext
    return RunContext(device, log=log or (lambda *a: None), progress=False)


def run_python(code, env=None, timeout=300):
    """Run ``code`` in a fresh interpreter of this environment; return CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``): the
    test data of the IDX reader and the loaders."""
    arr = numpy.asarray(array)
    for code, dtype in idx._IDX_TYPES.items():
        if arr.dtype.kind == dtype.kind and arr.dtype.itemsize == dtype.itemsize:
            break
    else:
        raise ValueError('IDX cannot store dtype {}'.format(arr.dtype))
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError('IDX needs 1 to 255 dimensions; got {}'.format(arr.ndim))
    payload = (struct.pack('>HBB', 0, code, arr.ndim)
               + struct.pack('>' + 'I' * arr.ndim, *arr.shape)
               + arr.astype(dtype).tobytes())
    path = os.fspath(path)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(payload)
