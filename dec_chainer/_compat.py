"""Run Chainer 7.8.1 on today's stack: NumPy 2, Python 3.12, setuptools >= 82, CuPy 14.

``dec_chainer/__init__.py`` imports this module before anything imports Chainer; where
``import chainer`` comes first, the import hook :mod:`dec_chainer._chainer_hook` (started
by a ``.pth`` file the package installs) applies the same patches then. Each patch
is guarded by a check of the running stack and applied only when that check says the stack
lacks what Chainer expects, so on an old stack (NumPy 1.x, setuptools < 82, a CuPy with
cuDNN) this module changes nothing. ``APPLIED`` lists what was patched in this process.

The patches (name: what breaks without it):

``numpy_sctypes``
    ``chainer/functions/array/as_strided.py`` reads ``numpy.sctypes`` at import time and in
    its backward; NumPy 2 removed it, so ``import chainer`` raises AttributeError. The
    attribute is put on NumPy only while Chainer imports; afterwards that one module sees
    it through a module-local proxy and NumPy is left as it was.
``environment_check``
    ``chainer/_environment_check.py`` imports ``numpy.distutils`` (gone on Python >= 3.12)
    and ``pkg_resources`` (gone in setuptools >= 82), so ``import chainer`` raises
    ModuleNotFoundError. Replaced by a module whose ``check()`` does nothing: its checks
    are for Python 3.5.0, macOS Accelerate and CuPy < 8 version pins.
``testing_pkg_resources``
    ``chainer.testing`` (and so ``chainer.gradient_check``) imports ``pkg_resources`` for
    ``with_requires``. A small stand-in built on ``importlib.metadata`` is visible in
    ``sys.modules`` only while those two Chainer modules execute, so no other library
    mistakes it for setuptools' real one.
``summary_float64``
    Under NEP 50 (NumPy 2) ``0.0 + numpy.float32(x)`` stays float32, so
    ``chainer.reporter.Summary`` (behind LogReport) sums in float32: means drift and the
    std goes NaN over long runs. ``Summary.add`` now casts values to float64 first, as
    NumPy 1's promotion did.
``cudnn_off``
    CuPy 14 ships no cuDNN. When CuPy is installed but its cuDNN module cannot be
    imported, cuDNN is switched off for Chainer (``CHAINER_CUDNN=0`` and
    ``use_cudnn='never'``) so every function takes Chainer's own CuPy kernels.

``chainermn_aggregator``
    ``chainermn.extensions.ObservationAggregator`` calls ``Variable.to_device('native')``
    on every observed value, which needs ChainerX (not built here), so aggregating a loss
    over the ranks raises. Applied by :func:`patch_chainermn` (when a job starts under
    MPI): observed Variables are handed over as CPU arrays instead.

``DEC_CHAINER_COMPAT_SKIP=name,name`` skips patches by name; the tests use it to show that
each patch is needed on the running stack.
"""

import importlib
import importlib.abc
import importlib.util
import os
import re
import sys
import types
import warnings

import numpy

#: Names of the patches applied in this process, in order.
APPLIED = []

_SKIP = frozenset(
    s.strip() for s in os.environ.get('DEC_CHAINER_COMPAT_SKIP', '').split(',')
    if s.strip())


def _enabled(name):
    return name not in _SKIP


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


# -- numpy_sctypes -----------------------------------------------------------------------

def _sctypes():
    # The table NumPy 1.x exposed as numpy.sctypes.
    return {
        'int': [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
        'uint': [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
        'float': [numpy.float16, numpy.float32, numpy.float64, numpy.longdouble],
        'complex': [numpy.complex64, numpy.complex128, numpy.clongdouble],
        'others': [bool, object, bytes, str, numpy.void],
    }


class _NumpyWithSctypes(types.ModuleType):
    """NumPy as one Chainer module sees it: NumPy plus the old ``sctypes`` table."""

    def __init__(self):
        super().__init__('numpy')
        self.sctypes = _sctypes()

    def __getattr__(self, name):
        return getattr(numpy, name)


def _needs_sctypes():
    return not hasattr(numpy, 'sctypes')


# -- environment_check -------------------------------------------------------------------

def _needs_environment_check():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            import numpy.distutils.system_info  # noqa: F401
            import pkg_resources  # noqa: F401
        except Exception:
            return True
    return False


def _environment_check_stand_in():
    module = types.ModuleType('chainer._environment_check')
    module.__doc__ = ('Stand-in installed by dec_chainer._compat: the original imports '
                      'numpy.distutils and pkg_resources, which this stack lacks.')
    module.check = lambda: None
    return module


# -- testing_pkg_resources ---------------------------------------------------------------

def _pkg_resources_stand_in():
    """The part of ``pkg_resources`` that ``chainer.testing`` uses, on importlib.metadata."""
    from importlib import metadata

    module = types.ModuleType('pkg_resources')
    module.__doc__ = 'Minimal stand-in for chainer.testing (dec_chainer._compat).'

    class ResolutionError(Exception):
        pass

    class DistributionNotFound(ResolutionError):
        pass

    class VersionConflict(ResolutionError):
        pass

    class WorkingSet:
        def require(self, *requirements):
            try:
                from packaging.requirements import Requirement
            except ImportError:  # no packaging: check names only
                Requirement = None
            for text in requirements:
                req = Requirement(text) if Requirement else None
                name = req.name if req else re.split(r'[<>=!~;\[ ]', text, 1)[0]
                try:
                    version = metadata.version(name)
                except metadata.PackageNotFoundError:
                    raise DistributionNotFound(text)
                if req and req.specifier and not req.specifier.contains(
                        version, prereleases=True):
                    raise VersionConflict(text, version)

    module.ResolutionError = ResolutionError
    module.DistributionNotFound = DistributionNotFound
    module.VersionConflict = VersionConflict
    module.WorkingSet = WorkingSet
    return module


class _ScopedLoader:
    """Wraps a loader so that extra modules are in sys.modules only during exec_module."""

    def __init__(self, loader, extra):
        self._loader = loader
        self._extra = extra

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        added = [name for name in self._extra if name not in sys.modules]
        for name in added:
            sys.modules[name] = self._extra[name]
        try:
            self._loader.exec_module(module)
        finally:
            for name in added:
                sys.modules.pop(name, None)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _ScopedModuleFinder(importlib.abc.MetaPathFinder):
    """Gives the named modules a stand-in dependency while (and only while) they load."""

    def __init__(self, targets, extra):
        self._targets = frozenset(targets)
        self._extra = extra

    def find_spec(self, fullname, path, target=None):
        if fullname not in self._targets:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                spec.loader = _ScopedLoader(spec.loader, self._extra)
                return spec
        return None


_CHAINER_MODULES_USING_PKG_RESOURCES = (
    'chainer.testing.helper', 'chainer.testing.doctest_helper')


def _needs_testing_pkg_resources():
    return not _importable('pkg_resources')


# -- summary_float64 ---------------------------------------------------------------------

def _needs_summary_float64():
    # NEP 50: a Python float no longer promotes a float32 scalar to float64.
    return isinstance(numpy.float32(1) + 0.0, numpy.float32)


def _patch_summary(summary_cls):
    original_add = summary_cls.add

    def add(self, value, weight=1):
        dtype = getattr(value, 'dtype', None)
        if dtype is not None and dtype.kind == 'f' and dtype.itemsize < 8:
            value = value.astype(numpy.float64)
        return original_add(self, value, weight)

    add.__doc__ = original_add.__doc__
    add._dec_chainer_float64 = True
    summary_cls.add = add


# -- chainermn_aggregator ----------------------------------------------------------------

def _needs_chainermn_aggregator():
    import chainer
    return not chainer.backend.chainerx.is_available()


def patch_chainermn():
    """Apply ``chainermn_aggregator`` (once per process) where this stack needs it."""
    if not _enabled('chainermn_aggregator') or 'chainermn_aggregator' in APPLIED \
            or not _needs_chainermn_aggregator():
        return
    import chainer
    from chainermn.extensions import observation_aggregator as module
    original = module.ObservationAggregator.compute_summary

    def compute_summary(self, trainer):
        value = trainer.observation.get(self.original_key)
        if isinstance(value, chainer.Variable):
            trainer.observation[self.original_key] = chainer.backend.CpuDevice().send(
                value.array)
        return original(self, trainer)

    compute_summary.__doc__ = original.__doc__
    module.ObservationAggregator.compute_summary = compute_summary
    APPLIED.append('chainermn_aggregator')


# -- cudnn_off ---------------------------------------------------------------------------

def _needs_cudnn_off():
    if not _importable('cupy'):
        return False
    try:
        importlib.import_module('cupy.cuda.cudnn')
        importlib.import_module('cupy.cudnn')
    except Exception:
        return True
    return False


# -- apply -------------------------------------------------------------------------------

def import_chainer(exec_chainer=None):
    """Import Chainer with the patches this stack needs (each applied once per process).

    ``exec_chainer``: a callable that executes ``chainer/__init__.py`` into the module
    already in ``sys.modules`` (the import hook of :mod:`dec_chainer._chainer_hook`, when
    ``import chainer`` comes before ``import dec_chainer``); None imports it here.
    """
    fresh = exec_chainer is not None or 'chainer' not in sys.modules
    sctypes = _enabled('numpy_sctypes') and _needs_sctypes()
    cudnn_off = _enabled('cudnn_off') and _needs_cudnn_off()

    if fresh:
        if sctypes:
            numpy.sctypes = _sctypes()
        if _enabled('environment_check') and _needs_environment_check():
            sys.modules['chainer._environment_check'] = _environment_check_stand_in()
            APPLIED.append('environment_check')
        if cudnn_off:
            os.environ['CHAINER_CUDNN'] = '0'
    try:
        if exec_chainer is not None:
            exec_chainer()
        else:
            import chainer  # noqa: F401
    finally:
        if sctypes and fresh:
            del numpy.sctypes
    chainer = sys.modules['chainer']

    if sctypes:
        as_strided = sys.modules.get('chainer.functions.array.as_strided')
        if as_strided is not None and not isinstance(as_strided.np, _NumpyWithSctypes):
            as_strided.np = _NumpyWithSctypes()
            APPLIED.append('numpy_sctypes')

    if (_enabled('testing_pkg_resources') and _needs_testing_pkg_resources()
            and not any(isinstance(f, _ScopedModuleFinder) for f in sys.meta_path)):
        sys.meta_path.insert(0, _ScopedModuleFinder(
            _CHAINER_MODULES_USING_PKG_RESOURCES,
            {'pkg_resources': _pkg_resources_stand_in()}))
        APPLIED.append('testing_pkg_resources')

    if (_enabled('summary_float64') and _needs_summary_float64()
            and not getattr(chainer.reporter.Summary.add, '_dec_chainer_float64', False)):
        _patch_summary(chainer.reporter.Summary)
        APPLIED.append('summary_float64')

    if cudnn_off and chainer.global_config.use_cudnn != 'never':
        chainer.global_config.use_cudnn = 'never'
        APPLIED.append('cudnn_off')


# The import hook loads this module itself (setting _FROM_HOOK) and then calls
# import_chainer with Chainer's own loader; imported as part of dec_chainer, it imports
# Chainer here.
if not globals().get('_FROM_HOOK'):
    import_chainer()
