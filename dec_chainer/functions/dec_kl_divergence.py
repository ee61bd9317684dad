"""DEC's clustering loss ``KL(P || Q)`` with a hand-written, vectorised backward."""

import numpy

from chainer import function
from chainer.utils import type_check

from dec_chainer.functions import _kernels, _student_t


class DECKLDivergence(function.Function):

    """``KL(P || Q)`` between a fixed target ``P`` and the soft assignment ``Q``.

    See :func:`dec_kl_divergence`. Retained for backward: the inputs ``z`` and
    ``centroids``; ``q`` and the kernel factor ``h``; and ``P``, which on the CPU is kept
    once, transposed to the (K, n) layout the backward reads (the input itself is not
    retained there). ``log q`` serves the forward only on the CPU; on the GPU the backward
    recomputes ``q`` from it inside its fused kernel. The output is not retained.
    """

    def __init__(self, alpha=1.0, kernel='squared', reduce='mean'):
        self.alpha = _student_t.check_kernel_args(alpha, kernel)
        self.kernel = kernel
        if reduce not in ('mean', 'sum'):
            raise ValueError("reduce must be 'mean' or 'sum'; got {!r}".format(reduce))
        self.reduce = reduce

    def check_type_forward(self, in_types):
        type_check._argname(in_types, ('z', 'centroids', 'p'))
        z, mu, p = in_types
        type_check.expect(
            z.dtype.kind == 'f',
            z.ndim == 2,
            mu.dtype == z.dtype,
            mu.ndim == 2,
            p.dtype == z.dtype,
            p.ndim == 2,
        )
        type_check.expect(
            z.shape[1] == mu.shape[1],
            p.shape[0] == z.shape[0],
            p.shape[1] == mu.shape[0],
        )

    def _scale(self, n):
        return 1.0 / n if self.reduce == 'mean' else 1.0

    def forward_cpu(self, inputs):
        self.retain_inputs((0, 1))  # p is kept below, transposed
        z, mu, p = inputs
        # (K, n) layout on the CPU, see _student_t.log_q_cpu
        logq_t, self.q_t, self.h_t = _student_t.log_q_cpu(z, mu, self.alpha, self.kernel)
        self.p_t = p_t = numpy.ascontiguousarray(p.T)
        # 0 log 0 = 0: rows of P may hold exact zeros
        log_p = numpy.log(p_t, where=p_t > 0, out=numpy.zeros_like(p_t))
        log_p -= logq_t
        log_p *= p_t
        kl = numpy.sum(log_p, dtype=numpy.float64)
        return numpy.asarray(kl * self._scale(len(z)), dtype=z.dtype),

    def forward_gpu(self, inputs):
        z, mu, p = inputs
        self.logq, _, self.h = _student_t.log_q_gpu(z, mu, self.alpha, self.kernel)
        # summed in float64, as on the CPU
        kl = _kernels.reduction('dec_kl_fwd')(p, self.logq)
        return (kl * self._scale(len(z))).astype(z.dtype),

    def backward_cpu(self, inputs, grad_outputs):
        z, mu, _ = inputs
        gy, = grad_outputs
        p_t = self.p_t
        # dL/d log k_ij = -(p_ij - s_i q_ij) with s_i = sum_j p_ij (1 for a normalised P)
        s = p_t.sum(axis=0)
        A_t = self.q_t * -s
        A_t += p_t
        A_t *= self.h_t
        A_t *= gy * z.dtype.type(
            _student_t.kernel_coefficient(self.alpha, self.kernel) * self._scale(len(z)))
        gz, gmu = _student_t.grads_from_coefficients_t(A_t, z, mu)
        return gz, gmu, None

    def backward_gpu(self, inputs, grad_outputs):
        z, mu, p = inputs
        gy, = grad_outputs
        s = p.sum(axis=1, keepdims=True)
        coef = z.dtype.type(
            _student_t.kernel_coefficient(self.alpha, self.kernel) * self._scale(len(z)))
        A = _kernels.elementwise('dec_kl_bwd')(p, self.logq, self.h, s, gy, coef)
        gz, gmu = _student_t.grads_from_coefficients(A, z, mu)
        return gz, gmu, None


def dec_kl_divergence(z, centroids, p, alpha=1.0, kernel='squared', reduce='mean'):
    r"""DEC's loss, the KL divergence of ``Q`` from the target ``P`` (Xie et al. 2016, eq. 2).

    .. math::

        L = \mathrm{KL}(P \| Q) = \sum_i \sum_j p_{ij} \log \frac{p_{ij}}{q_{ij}}

    ``Q`` is :func:`soft_assignment` of ``z`` to ``centroids``; ``P`` is a constant target
    (see :func:`dec_chainer.target_distribution`) and gets no gradient. The gradients are the
    paper's eqs. 4-5,

    .. math::

        \frac{\partial L}{\partial z_i} = \frac{\alpha + 1}{\alpha} \sum_j
            (1 + \|z_i - \mu_j\|^2 / \alpha)^{-1} (p_{ij} - q_{ij}) (z_i - \mu_j),

    and the same with the opposite sign for :math:`\mu_j`, in GEMM form (O(nK) memory, no
    (n, K, d) tensor). The sum is accumulated in float64 on CPU and GPU alike.

    Args:
        z: embeddings (n, d), float32 or float64.
        centroids: (K, d), same dtype.
        p: target distribution (n, K), same dtype.
        alpha (float): Student's t degrees of freedom (> 0).
        kernel (str): ``'squared'`` (paper) or ``'distance'`` (article), see
            :func:`soft_assignment`.
        reduce (str): ``'mean'`` over the batch (default) or ``'sum'``.

    Returns:
        ~chainer.Variable: the scalar loss.

    .. admonition:: Example

        >>> import chainer, numpy
        >>> from dec_chainer.functions import dec_kl_divergence, soft_assignment
        >>> z = chainer.Variable(numpy.array([[0, 0], [2, 2]], dtype=numpy.float32))
        >>> mu = numpy.array([[0, 0], [2, 2]], dtype=numpy.float32)
        >>> q = soft_assignment(z, mu).array
        >>> abs(float(dec_kl_divergence(z, mu, q).array)) < 1e-6  # P = Q: no divergence
        True
        >>> loss = dec_kl_divergence(z, mu, numpy.eye(2, dtype=numpy.float32))
        >>> loss.backward()
        >>> z.grad.shape
        (2, 2)
    """
    return DECKLDivergence(alpha, kernel, reduce)(z, centroids, p)
