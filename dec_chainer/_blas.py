"""NumPy's own BLAS, for the level-1 update NumPy has no single function for.

The momentum update ``v = momentum v - lr g; param += v`` costs four passes over memory and
a temporary in NumPy, on one core. BLAS does it in three passes without a temporary
(``scal``, ``axpy``, ``axpy``) on NumPy's BLAS threads (``axpby`` would save a pass but is
not threaded). It must be the BLAS NumPy itself uses: a second OpenBLAS (SciPy ships its
own) brings a second pool of threads that spin against NumPy's after every matrix product.

:func:`momentum_step` finds NumPy's bundled OpenBLAS (the PyPI wheels' ``numpy.libs``) with
threadpoolctl and calls it through ctypes; where NumPy uses another BLAS (a conda build,
MKL), it returns False and the caller keeps its NumPy code.
"""

import ctypes
import os

import numpy

_ROUTINES = None


def _numpy_openblas():
    """Path of the OpenBLAS library loaded from NumPy's own package (or None)."""
    from threadpoolctl import threadpool_info
    base = os.path.realpath(os.path.dirname(numpy.__file__))
    homes = (base + os.sep, base + '.libs' + os.sep)
    for info in threadpool_info():
        path = os.path.realpath(info.get('filepath') or '')
        if info.get('internal_api') == 'openblas' and path.startswith(homes):
            return path
    return None


def _load():
    path = _numpy_openblas()
    if path is None:
        return {}
    lib = ctypes.CDLL(path)
    for prefix, suffix in (('scipy_', '64_'), ('', '64_'), ('scipy_', ''), ('', '')):
        try:
            config = getattr(lib, prefix + 'openblas_get_config' + suffix)
            found = {t: (getattr(lib, '{}cblas_{}scal{}'.format(prefix, t, suffix)),
                         getattr(lib, '{}cblas_{}axpy{}'.format(prefix, t, suffix)))
                     for t in 'sd'}
        except AttributeError:
            continue
        config.restype = ctypes.c_char_p
        n = ctypes.c_int64 if b'USE64BITINT' in (config() or b'') else ctypes.c_int32
        routines = {}
        for t, dtype, scalar in (('s', numpy.float32, ctypes.c_float),
                                 ('d', numpy.float64, ctypes.c_double)):
            scal, axpy = found[t]
            scal.argtypes = [n, scalar, ctypes.c_void_p, n]
            axpy.argtypes = [n, scalar, ctypes.c_void_p, n, ctypes.c_void_p, n]
            scal.restype = axpy.restype = None
            routines[numpy.dtype(dtype)] = (scal, axpy)
        return routines
    return {}


def routines():
    """``{dtype: (scal, axpy)}`` of NumPy's OpenBLAS (CBLAS, ctypes); empty when there is
    none to call."""
    global _ROUTINES
    if _ROUTINES is None:
        try:
            _ROUTINES = _load()
        except (OSError, ImportError):
            _ROUTINES = {}
    return _ROUTINES


def momentum_step(param, v, grad, lr, momentum):
    """``v = momentum v - lr grad; param += v`` in place with NumPy's BLAS.

    All three arrays: NumPy, C-contiguous, writeable (``param``, ``v``), of one dtype,
    float32 or float64, one size. Returns False (and changes nothing) when BLAS cannot take
    them. ``axpy`` rounds ``v - lr grad`` once (a fused multiply-add) where NumPy rounds the
    product and the difference, so the result may differ from NumPy's in the last bit.
    """
    funcs = routines().get(getattr(param, 'dtype', None))
    if funcs is None or not all(
            isinstance(a, numpy.ndarray) and a.dtype == param.dtype and a.flags.c_contiguous
            and a.size == param.size for a in (v, grad)):
        return False
    if not (param.flags.writeable and v.flags.writeable and param.flags.c_contiguous):
        return False
    scal, axpy = funcs
    n = param.size
    scal(n, momentum, v.ctypes.data, 1)
    axpy(n, -lr, grad.ctypes.data, 1, v.ctypes.data, 1)
    axpy(n, 1.0, v.ctypes.data, 1, param.ctypes.data, 1)
    return True
