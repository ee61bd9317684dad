"""dec_chainer: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on Chainer 7.8.1.

``_compat`` must be imported before Chainer: it makes Chainer 7.8.1 import and behave on
NumPy 2 / Python 3.12 / setuptools >= 82 / CuPy 14. The layers, and who may import whom,
are in ARCHITECTURE.md.
"""

import os as _os
import signal as _signal
import sys as _sys


def _started_as_command():
    """Whether this process is the ``dec-chainer`` command (or ``python -m dec_chainer``)."""
    argv = getattr(_sys, 'orig_argv', [])
    return (_os.path.basename(_sys.argv[0] if _sys.argv else '') == 'dec-chainer'
            or argv[1:3] == ['-m', 'dec_chainer'])


def _interrupted_while_starting(signum, frame):
    print('dec-chainer: interrupted while starting; nothing was run', file=_sys.stderr)
    raise SystemExit(130)


if _started_as_command() and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
    # Ctrl-C during the imports below (seconds: Chainer, NumPy) ends in one line, not a
    # traceback through the import machinery; cli.main restores the default handler
    _signal.signal(_signal.SIGINT, _interrupted_while_starting)

from dec_chainer import _compat  # noqa: F401,E402  (before anything imports chainer)
from dec_chainer._version import __version__  # noqa: F401,E402
from dec_chainer import datasets  # noqa: F401,E402
from dec_chainer import evaluations  # noqa: F401,E402
from dec_chainer import functions  # noqa: F401,E402
from dec_chainer import links  # noqa: F401,E402
from dec_chainer.functions import target_distribution  # noqa: F401,E402
from dec_chainer.presets import DECConfig, get_config, PRESETS  # noqa: F401,E402


def __getattr__(name):
    # the run layer and the estimator pull in scikit-learn (~1 s): import them on first use
    if name == 'DEC':
        from dec_chainer.estimator import DEC
        return DEC
    if name == 'fit_dec':
        from dec_chainer.runs import fit_dec
        return fit_dec
    raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))
