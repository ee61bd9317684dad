"""DEC's soft assignment ``q`` of points to centroids (Student's t kernel)."""

import numpy

from chainer.backends import cuda
from chainer import function
from chainer.utils import type_check

from dec_chainer.functions import _kernels, _student_t


class SoftAssignment(function.Function):

    """``q_ij = k(z_i, mu_j) / sum_j' k(z_i, mu_j')`` with a Student's t kernel ``k``.

    See :func:`soft_assignment`. Retained for backward: the inputs ``z`` and ``centroids``
    (the gradient's two GEMMs), and ``q`` and the kernel factor ``h`` (see
    :mod:`~dec_chainer.functions._student_t`), kept by the forward pass in the layout its
    backward reads: (K, n) on the CPU, (n, K) on the GPU. The output is not retained.
    """

    def __init__(self, alpha=1.0, kernel='squared'):
        self.alpha = _student_t.check_kernel_args(alpha, kernel)
        self.kernel = kernel

    def check_type_forward(self, in_types):
        type_check._argname(in_types, ('z', 'centroids'))
        z, mu = in_types
        type_check.expect(
            z.dtype.kind == 'f',
            z.ndim == 2,
            mu.dtype == z.dtype,
            mu.ndim == 2,
        )
        type_check.expect(z.shape[1] == mu.shape[1])

    def forward_cpu(self, inputs):
        z, mu = inputs
        _, self.q_t, self.h_t = _student_t.log_q_cpu(z, mu, self.alpha, self.kernel)
        return numpy.ascontiguousarray(self.q_t.T),  # computed (K, n): see log_q_cpu

    def forward_gpu(self, inputs):
        z, mu = inputs
        _, self.q, self.h = _student_t.log_q_gpu(z, mu, self.alpha, self.kernel)
        return self.q,

    def backward_cpu(self, inputs, grad_outputs):
        z, mu = inputs
        gq_t = numpy.ascontiguousarray(grad_outputs[0].T)
        q_t = self.q_t
        # d q_ij / d log k_il = q_ij ([j == l] - q_il)
        t = (q_t * gq_t).sum(axis=0)
        A_t = gq_t - t
        A_t *= q_t
        A_t *= self.h_t
        A_t *= -_student_t.kernel_coefficient(self.alpha, self.kernel)
        return _student_t.grads_from_coefficients_t(A_t, z, mu)

    def backward_gpu(self, inputs, grad_outputs):
        z, mu = inputs
        gq, = grad_outputs
        t = cuda.cupy.einsum('ij,ij->i', self.q, gq)[:, None]
        A = _kernels.elementwise('dec_soft_assignment_bwd')(self.q, gq, t, self.h,
          z.dtype.type(_student_t.kernel_coefficient(self.alpha, self.kernel)))
        return _student_t.grads_from_coefficients(A, z, mu)


def soft_assignment(z, centroids, alpha=1.0, kernel='squared'):
    r"""Soft assignment of points to centroids (DEC, Xie et al. 2016, eq. 1).

    .. math::

        q_{ij} = \frac{(1 + \|z_i - \mu_j\|^2 / \alpha)^{-\frac{\alpha + 1}{2}}}
                       {\sum_{j'} (1 + \|z_i - \mu_{j'}\|^2 / \alpha)^{-\frac{\alpha + 1}{2}}}

    ``kernel='distance'`` uses :math:`\|z_i - \mu_j\|` in place of its square (the
    original Chainer repository's choice). Computed in log space, so ``q`` stays finite and
    normalised for far-away points, in float32 and float64.

    Args:
        z (:class:`~chainer.Variable` or array): embeddings, shape (n, d), float.
        centroids (:class:`~chainer.Variable` or array): shape (K, d), same dtype.
        alpha (float): degrees of freedom of the Student's t kernel (> 0).
        kernel (str): ``'squared'`` (paper) or ``'distance'`` (article).

    Returns:
        ~chainer.Variable: ``q``, shape (n, K), C-contiguous; differentiable in ``z`` and
        ``centroids``.

    .. admonition:: Example

        >>> import numpy
        >>> from dec_chainer.functions import soft_assignment
        >>> z = numpy.array([[0, 0], [2, 2]], dtype=numpy.float32)
        >>> mu = numpy.array([[0, 0], [2, 2], [0, 2]], dtype=numpy.float32)
        >>> q = soft_assignment(z, mu).array
        >>> q.shape, bool(numpy.allclose(q.sum(axis=1), 1))
        ((2, 3), True)
        >>> q.argmax(axis=1)
        array([0, 1])
    """
    return SoftAssignment(alpha, kernel)(z, centroids)
