"""DEC's auxiliary target distribution ``P`` (Xie et al. 2016, eq. 3)."""

import numpy

from chainer import backend

from dec_chainer.functions import _kernels

#: elements (rows x K) per block of :func:`target_distribution_batches`'s passes over P: its
#: temporaries are a few such blocks, and ``f_j`` is summed a block at a time (a data set of
#: up to this many elements is one block: ``f_j`` is then the plain sum over all rows)
BLOCK_ELEMENTS = 1 << 21


def cluster_frequencies(q):
    """``f_j = sum_i q_ij``, summed as :func:`target_distribution` sums it (on the CPU
    pairwise along rows of ``q.T``, NumPy's accurate reduction)."""
    if hasattr(q, 'array'):
        q = q.array
    if backend.get_array_module(q) is numpy:
        return numpy.ascontiguousarray(q.T).sum(axis=1)
    return q.sum(axis=0)


def target_distribution(q, frequencies=None):
    r"""DEC's auxiliary target distribution ``P`` from the soft assignment ``Q`` (eq. 3).

    .. math::

        p_{ij} = \frac{q_{ij}^2 / f_j}{\sum_{j'} q_{ij'}^2 / f_{j'}}, \qquad
        f_j = \sum_i q_{ij}

    ``f`` sums over all rows of ``q``, so pass the soft assignment of the whole data set,
    or pass ``frequencies``: ``f`` summed over the whole data set elsewhere (data-parallel
    DEC gives each process's rows of ``q`` and the ``f`` of all processes' rows).
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
    if frequencies is not None:
        frequencies = xp.asarray(frequencies, dtype=q.dtype)
        if frequencies.shape != q.shape[1:]:
            raise ValueError('frequencies must have shape ({},); got {}'.format(
                q.shape[1], frequencies.shape))
    if xp is numpy:
        # computed in (K, n) layout: NumPy reduces slowly along short rows
        q_t = numpy.ascontiguousarray(q.T)
        f = q_t.sum(axis=1) if frequencies is None else frequencies  # cluster_frequencies
        f = numpy.maximum(f, tiny)  # nobody near a cluster: weights 0, not NaN
        w_t = numpy.square(q_t)
        w_t /= f[:, None]
        w_t /= w_t.sum(axis=0)
        return numpy.ascontiguousarray(w_t.T)
    f = xp.maximum(cluster_frequencies(q) if frequencies is None else frequencies, tiny)
    q = xp.ascontiguousarray(q)
    p = xp.empty_like(q)
    _kernels.elementwise('dec_target_distribution_fwd')(q, xp.ascontiguousarray(f), numpy.int32(q.shape[1]), p, size=q.shape[0])
    return p


def target_distribution_batches(q_batches, p, labels=None, share_frequencies=None,
                                device=None):
    """DEC's ``P`` of a whole data set, given its soft assignment a batch at a time.

    The one algorithm of the DEC phase's target, whether the per-row arrays are in memory
    or memory-mapped files, in one process or several: each batch of ``q`` is written into
    its rows of ``p`` (and its argmax into ``labels``); ``f_j`` is summed a block of rows
    at a time (:data:`BLOCK_ELEMENTS`, float64 across blocks) and, with
    ``share_frequencies`` (data-parallel DEC: the all-reduce over the processes), over
    every process's rows; then ``p`` becomes :func:`target_distribution` in place, a block
    at a time (on ``device``: the fused kernel on a GPU). Memory beyond ``p`` and
    ``labels`` is a few blocks.

    Args:
        q_batches: the soft assignment of consecutive rows, batch by batch (arrays or
            Variables, on any device).
        p (array): (n, K) NumPy array or memory-mapped file, overwritten with ``P``.
        labels (array): (n,) integers, overwritten with the hard labels; or None.
        share_frequencies (callable): from this data's ``f_j`` (float64) to those of the
            whole data set when ``p`` is one part of it; None: ``p`` is the whole.
        device: where ``P`` of each block is computed (default: the CPU).

    Returns:
        ``p``.
    """
    cpu = backend.CpuDevice()
    start = 0
    for q in q_batches:
        q = getattr(q, 'array', q)
        if labels is not None:
            labels[start:start + len(q)] = cpu.send(q.argmax(axis=1))
        p[start:start + len(q)] = cpu.send(q)
        start += len(q)
    if start != len(p):
        raise ValueError('q_batches gave {} rows for a p of {}'.format(start, len(p)))
    block = max(1, BLOCK_ELEMENTS // max(1, p.shape[1]))
    f = numpy.zeros(p.shape[1])
    for start in range(0, len(p), block):
        f += cluster_frequencies(numpy.ascontiguousarray(p[start:start + block]))
    if share_frequencies is not None:
        f = share_frequencies(f)
    device = cpu if device is None else device
    for start in range(0, len(p), block):
        rows = p[start:start + block]
        rows[...] = cpu.send(target_distribution(
            device.send(numpy.ascontiguousarray(rows)), f))
    return p
