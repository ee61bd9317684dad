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
'''


def target_distribution(q):
    r"""DEC's auxiliary target distribution ``P`` from the soft assignment ``Q`` (eq. 3).

    .. math::

        p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \qquad
        f_j = \sum_i q_{ij}

    ``f`` sums over all rows of ``q``, so pass the soft assignment of the whole data set.
    Plain arrays in and out (NumPy or CuPy, same dtype, (n, K) C-contiguous); no graph.

    .. admonition:: Example

        >>> import numpy
        >>> from dec_chainer import target_distribution
        >>> q = numpy.array([[0.6, 0.4], [0.5, 0.5]], dtype=numpy.float32)
        >>> p = target_distribution(q)
        >>> bool(numpy.allclose(p.sum(axis=1), 1)), bool(p[0, 0] > q[0, 0])
        (True, True)
    """
    if hasattr(q, 'array'):
        q = q.array
    xp = backend.get_array_module(q)
    if q.ndim != 2 or q.dtype.kind != 'f':
        raise ValueError('q must be a 2-D float array; got {} {}'.format(q.dtype, q.shape))
    tiny = numpy.finfo(q.dtype).tiny
    if xp is numpy:
        # computed in (K, n) layout: NumPy reduces slowly along short rows
        q_t = numpy.ascontiguousarray(q.T)
        f = numpy.maximum(q_t.sum(axis=1), tiny)  # nobody near a cluster: weights 0, not NaN
        w_t = numpy.square(q_t)
        w_t /= f[:, None]
        w_t /= w_t.sum(axis=0)
        return numpy.ascontiguousarray(w_t.T)
    f = xp.maximum(q.sum(axis=0), tiny)
    q = xp.ascontiguousarray(q)
    p = xp.empty_like(q)
    cuda.elementwise(
        'raw T q, raw T f, int32 K', 'raw T p',
        _TARGET_FWD, 'dec_target_distribution_fwd',
    )(q, xp.ascontiguousarray(f), numpy.int32(q.shape[1]), p, size=q.shape[0])
    return p
