"""dec_chainer: Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on Chainer 7.8.1.

``_compat`` must be imported before Chainer: it makes Chainer 7.8.1 import and behave on
NumPy 2 / Python 3.12 / setuptools >= 82 / CuPy 14. The layers, and who may import whom,
are in ARCHITECTURE.md.
"""

from dec_chainer import _launch  # noqa: E402  (first: a Ctrl-C while importing is one line)
_launch.guard_start()

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
