"""Shared maths of the DEC functions: the Student's t kernel in log space, on CPU and GPU.

For points ``z`` (n, d) and centroids ``mu`` (K, d), with ``d_ij = ||z_i - mu_j||^2`` from the
GEMM form ``||z||^2 + ||mu||^2 - 2 z mu^T`` (no (n, K, d) tensor), and ``r_ij`` either
``d_ij`` (the paper's squared kernel) or ``sqrt(d_ij)`` (the article's distance kernel):

    log k_ij = -(alpha + 1) / 2 * log1p(r_ij / alpha)
    log q_ij = log k_ij - logsumexp_j log k_ij          (q never underflows to a NaN loss)

and the factor ``h_ij`` with ``d log k_ij / d z_i = -c * h_ij * (z_i - mu_j)``:

    squared:  c = (alpha + 1) / alpha,  h = 1 / (1 + d / alpha)
    distance: c = (alpha + 1) / 2,      h = 1 / (r * (alpha + r))

For the distance kernel ``r`` in ``h`` is floored at ``sqrt(eps * (||z||^2 + ||mu||^2))``, the
size of the rounding noise of the GEMM form: the gradient of a distance is undefined at 0,
and below that floor ``r`` is noise anyway.

A backward pass reduces to a coefficient matrix ``A_ij = dL/d log k_ij * (-c h_ij)``, from
which ``gz = A.sum(1) z - A mu`` and ``gmu = A.sum(0) mu - A^T z`` (two GEMMs). The CPU path
keeps its (n, K) matrices transposed, as (K, n): see :func:`log_q_cpu`.
"""

import numpy

from chainer.backends import cuda

from dec_chainer.functions import _kernels

KERNELS = ('squared', 'distance')


def check_kernel_args(alpha, kernel):
    if kernel not in KERNELS:
        raise ValueError('kernel must be one of {}; got {!r}'.format(KERNELS, kernel))
    alpha = float(alpha)
    if not alpha > 0 or not numpy.isfinite(alpha):
        raise ValueError('alpha must be a positive finite number; got {}'.format(alpha))
    return alpha


def kernel_coefficient(alpha, kernel):
    """The constant ``c`` of the gradient of log k (see the module docstring)."""
    return (alpha + 1.0) / alpha if kernel == 'squared' else (alpha + 1.0) / 2.0


def log_q_cpu(z, mu, alpha, kernel):
    """Return ``log q``, ``q`` and ``h`` with NumPy, all **transposed**: shape (K, n).

    NumPy reduces fast along the contiguous axis and slowly along short rows (K ~ 10), so
    the CPU path works in (K, n) layout: the row log-sum-exp becomes K vectorised passes.
    Points so far away that their squared distances overflow the dtype (|z| ~ 1e19 in
    float32) are computed in float64 and the results cast back, so ``q`` stays finite.
    """
    eps = float(numpy.finfo(z.dtype).eps)
    with numpy.errstate(over='ignore', invalid='ignore'):  # checked just below
        zz = numpy.einsum('ij,ij->i', z, z)[None, :]
        mm = numpy.einsum('ij,ij->i', mu, mu)[:, None]
        d = mu @ z.T
        d *= -2
        d += zz
        d += mm
    if not numpy.isfinite(d).all() and z.dtype != numpy.float64 \
            and numpy.isfinite(z).all() and numpy.isfinite(mu).all():
        return tuple(a.astype(z.dtype) for a in log_q_cpu(
            z.astype(numpy.float64), mu.astype(numpy.float64), alpha, kernel))
    numpy.maximum(d, 0, out=d)
    if kernel == 'squared':
        t = d / alpha if alpha != 1 else d
        logk = numpy.log1p(t)
        logk *= -(alpha + 1.0) / 2.0
        t += 1
        h = numpy.reciprocal(t, out=t)
    else:
        r = numpy.sqrt(d)
        floor = numpy.sqrt(eps * (zz + mm))
        numpy.maximum(floor, eps, out=floor)
        logk = numpy.log1p(r / alpha)
        logk *= -(alpha + 1.0) / 2.0
        h = 1 / (numpy.maximum(r, floor) * (alpha + r))
    m = logk.max(axis=0)
    q = logk - m
    numpy.exp(q, out=q)
    total = q.sum(axis=0)
    q /= total
    lse = numpy.log(total)
    lse += m
    logk -= lse
    return logk, q, h


def log_q_gpu(z, mu, alpha, kernel):
    """Return ``log q``, ``q`` and ``h`` with CuPy: cuBLAS GEMM + one fused row kernel."""
    cupy = cuda.cupy
    n, K = z.shape[0], mu.shape[0]
    z64, mu64 = z.astype(numpy.float64), mu.astype(numpy.float64)  # (n, d), d small
    zz = cupy.einsum('ij,ij->i', z64, z64)
    mm = cupy.ascontiguousarray(cupy.einsum('ij,ij->i', mu64, mu64))
    zm = cupy.ascontiguousarray(z @ mu.T)
    logq = cupy.empty((n, K), dtype=z.dtype)
    q = cupy.empty_like(logq)
    h = cupy.empty_like(logq)
    _kernels.elementwise('dec_soft_assignment_fwd')(zz, zm, mm, numpy.int32(K), float(alpha), float(numpy.finfo(z.dtype).eps),
      kernel == 'squared', logq, q, h)
    return logq, q, h


def grads_from_coefficients_t(At, z, mu):
    """:func:`grads_from_coefficients` for a transposed coefficient matrix ``At`` (K, n)."""
    gz = At.sum(axis=0)[:, None] * z
    gz -= At.T @ mu
    gmu = At.sum(axis=1)[:, None] * mu
    gmu -= At @ z
    return gz, gmu


def grads_from_coefficients(A, z, mu):
    """``gz = A.sum(1) z - A mu`` and ``gmu = A.sum(0) mu - A^T z`` (NumPy or CuPy)."""
    gz = A.sum(axis=1)[:, None] * z
    gz -= A @ mu
    gmu = A.sum(axis=0)[:, None] * mu
    gmu -= A.T @ z
    return gz, gmu
