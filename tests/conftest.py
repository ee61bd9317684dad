import os
import subprocess
import sys

import pytest

import dec_chainer  # noqa: F401  (applies the compatibility patches before Chainer)

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


def run_python(code, env=None, timeout=300):
    """Run ``code`` in a fresh interpreter of this environment; return CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)
