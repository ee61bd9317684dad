"""Where and how a result was made: command, git commit, machine, versions."""

import os
import platform
import subprocess
import sys

import numpy


def git_commit(path=None):
    path = path or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=path, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=path, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit + ('+dirty' if dirty else '')) or None


def cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: d.get(k) for k in ('internal_api', 'version', 'architecture', 'num_threads')}
            for d in threadpool_info() if d.get('user_api') == 'blas']


def provenance(argv=None):
    import chainer
    import dec_chainer
    return {
        'command': ' '.join(argv if argv is not None else sys.argv),
        'git_commit': git_commit(),
        'machine': {'cpu': cpu_model(), 'cores': os.cpu_count(),
                    'platform': platform.platform()},
        'versions': {'dec_chainer': dec_chainer.__version__, 'chainer': chainer.__version__,
                     'numpy': numpy.__version__, 'python': platform.python_version()},
        'blas': blas_info(),
    }
