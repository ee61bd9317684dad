"""Makes ``import chainer`` apply dec_chainer's compatibility patches, in any import order.

``import dec_chainer`` patches the stack and then imports Chainer (:mod:`dec_chainer._compat`).
A program that imports Chainer first would meet Chainer 7.8.1's breakage on NumPy 2
(``np.sctypes was removed``) before dec_chainer could step in. The installed file
``dec_chainer_chainer_hook.pth`` runs this module at interpreter start; it adds a finder to
``sys.meta_path`` that, on the first ``import chainer``, loads :mod:`dec_chainer._compat`
and lets it execute Chainer with the patches in place. This module imports only the
standard library: NumPy, Chainer and the patches load when Chainer is first imported,
never at interpreter start.
"""

import importlib.abc
import importlib.util
import os
import sys

#: One line for a ``.pth`` file: finds the installed dec_chainer without importing it
#: (no NumPy at interpreter start) and runs this module, which installs the finder.
PTH_LINE = (
    "import importlib.util as u; s = u.find_spec('dec_chainer'); "
    "p = s and s.submodule_search_locations and __import__('os').path.join("
    "list(s.submodule_search_locations)[0], '_chainer_hook.py'); "
    "h = p and __import__('os').path.exists(p) and u.spec_from_file_location("
    "'dec_chainer_chainer_hook', p); "
    "h and h.loader.exec_module(u.module_from_spec(h))\n")

_COMPAT = 'dec_chainer._compat'


def _load_compat():
    module = sys.modules.get(_COMPAT)
    if module is not None:
        return module
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '_compat.py')
    spec = importlib.util.spec_from_file_location(_COMPAT, path)
    module = importlib.util.module_from_spec(spec)
    module._FROM_HOOK = True  # define the patches; do not import Chainer from there
    sys.modules[_COMPAT] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_COMPAT]
        raise
    return module


class _PatchingLoader(importlib.abc.Loader):

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _load_compat().import_chainer(lambda: self._loader.exec_module(module))

    def __getattr__(self, name):
        return getattr(self._loader, name)


class ChainerCompatFinder(importlib.abc.MetaPathFinder):

    """Wraps Chainer's loader on its first import; steps aside when dec_chainer does it."""

    def find_spec(self, fullname, path, target=None):
        if fullname != 'chainer':
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]  # once is enough
        if _COMPAT in sys.modules:  # dec_chainer._compat is importing Chainer itself
            return None
        for finder in sys.meta_path:
            find = getattr(finder, 'find_spec', None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def install():
    """Put the finder first on ``sys.meta_path`` (once; nothing if Chainer is loaded)."""
    if 'chainer' in sys.modules or any(
            type(f).__name__ == 'ChainerCompatFinder' for f in sys.meta_path):
        return
    sys.meta_path.insert(0, ChainerCompatFinder())


install()
