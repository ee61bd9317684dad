"""Where and how a result was made: command, git commit, machine, versions, BLAS kernel.

What a seeded run reproduces: the same labels bit for bit on the same BLAS kernel with the
same versions; on another kernel (another CPU), the same distribution of results but not
the same labels, because the kernels round matrix products differently. So every report
names the CPU model, the BLAS libraries and their kernels (threadpoolctl) beside the
versions.
"""

import os
import platform
import subprocess
import sys

import numpy


def git_commit(path=None):
    """The commit (``+dirty`` with uncommitted changes) of the project checkout at ``path``
    (default: the one this package was imported from), or None where that is not the
    top of a git checkout: an installed package inside some other repository (a
    virtualenv's site-packages in a project of its own) records no commit, not that
    repository's."""
    path = os.path.realpath(path or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        top = subprocess.run(['git', 'rev-parse', '--show-toplevel'], cwd=path,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        if not top or os.path.realpath(top) != path:
            return None
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
    """The BLAS libraries loaded in this process: library, version, kernel, threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [dict({k: d.get(k) for k in ('internal_api', 'version', 'architecture',
                                         'num_threads')},
                 library=os.path.basename(d.get('filepath') or '') or None)
            for d in threadpool_info() if d.get('user_api') == 'blas']


def versions():
    import chainer
    from dec_chainer._version import __version__
    out = {'dec_chainer': __version__, 'chainer': chainer.__version__,
           'numpy': numpy.__version__, 'python': platform.python_version()}
    for name in ('scipy', 'sklearn', 'cupy'):
        module = sys.modules.get(name)  # what this process used; nothing imported here
        if module is not None and hasattr(module, '__version__'):
            out['scikit-learn' if name == 'sklearn' else name] = module.__version__
    return out


def environment():
    """Machine, versions and BLAS kernels: what decides whether a seeded run repeats."""
    from dec_chainer import _compat
    return {'machine': {'cpu': cpu_model(), 'cores': os.cpu_count(),
                        'platform': platform.platform()},
            'versions': versions(),
            'blas': blas_info(),
            'compat_patches': list(_compat.APPLIED)}  # what dec_chainer changed in Chainer


def provenance(argv=None):
    return dict({'command': ' '.join(argv if argv is not None else sys.argv),
                 'git_commit': git_commit()}, **environment())
