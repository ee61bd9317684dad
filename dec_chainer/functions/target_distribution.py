"""DEC's auxiliary target distribution ``P`` (Xie et al. 2016, eq. 3)."""

import numpy

from chainer import backend
from chainer.backends import cuda

# One thread per row: w_j = q_ij^2 / f_j, then the row is normalised.
_TARGET_FWD = '''
const int base = i * K;
T total = 0;
for (int j = 0; j < K; ++j) {
    const T w = q[base + j] * q[base + j] / f[j];
    p[base + j] = w;
    total += w;
}
for (int j = 0; j < K; ++j) p[base + j] /= total;
s = total;
'''


def target_distribution(q):
    """``p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j')`` with ``f_j = sum_i q_ij``.

    ``f`` sums over all rows of ``q``, so pass the soft assignment of the whole data set.
    Plain arrays in and out (NumPy or CuPy, same dtype); no graph. On the CPU ``p`` is the
    transposed view of a (K, n) array (Fortran order), like ``q`` from
    :func:`soft_assignment`.
    """
    if hasattr(q, 'array'):
        q = q.array
    xp = backend.get_array_module(q)
    if q.ndim != 2 or q.dtype.kind != 'f':
        raise ValueError('q must be a 2-D float array; got {} {}'.format(q.dtype, q.shape))
    tiny = numpy.finfo(q.dtype).tiny
    if xp is numpy:
        # (K, n) layout: NumPy reduces slowly along short rows. q from soft_assignment is
        # already a (K, n) array's transpose; P is returned the same way (Fortran order).
        q_t = q.T if q.T.flags.c_contiguous else numpy.ascontiguousarray(q.T)
        f = numpy.maximum(q_t.sum(axis=1), tiny)  # nobody near a cluster: weights 0, not NaN
        w_t = numpy.square(q_t)
        w_t /= f[:, None]
        w_t /= w_t.sum(axis=0)
        return w_t.T
    f = xp.maximum(q.sum(axis=0), tiny)
    q = xp.ascontiguousarray(q)
    p = xp.empty_like(q)
    s = xp.empty(q.shape[0], dtype=q.dtype)
    cuda.elementwise(
        'raw T q, raw T f, int32 K', 'T s, raw T p',
        _TARGET_FWD, 'dec_target_distribution_fwd',
    )(q, xp.ascontiguousarray(f), numpy.int32(q.shape[1]), s, p)
    return p
