"""The DEC functions: gradients checked numerically, values against loop implementations."""

import numpy
import pytest

import chainer
from chainer import gradient_check
from chainer.utils.type_check import InvalidType

from dec_chainer import target_distribution
from dec_chainer.functions import dec_kl_divergence, soft_assignment

SHAPES = [(1, 2, 1), (7, 3, 2), (20, 5, 10), (64, 10, 3)]
ALPHAS = [0.5, 1.0, 2.5]
KERNELS = ['squared', 'distance']


# -- loop implementations (the paper's formulas, written out) ----------------------------

def loop_q(z, mu, alpha, kernel):
    n, K = len(z), len(mu)
    k = numpy.zeros((n, K))
    for i in range(n):
        for j in range(K):
            dist2 = sum((z[i, t] - mu[j, t]) ** 2 for t in range(z.shape[1]))
            r = dist2 if kernel == 'squared' else numpy.sqrt(dist2)
            k[i, j] = (1 + r / alpha) ** (-(alpha + 1) / 2)
    return k / k.sum(axis=1, keepdims=True)


def loop_p(q):
    n, K = q.shape
    f = [sum(q[i, j] for i in range(n)) for j in range(K)]
    p = numpy.zeros_like(q)
    for i in range(n):
        w = [q[i, j] ** 2 / f[j] for j in range(K)]
        for j in range(K):
            p[i, j] = w[j] / sum(w)
    return p


def loop_grads(z, mu, p, alpha, kernel):
    """Eqs. 4-5 of the paper (squared kernel), and the same derivation for the distance."""
    q = loop_q(z, mu, alpha, kernel)
    n = len(z)
    gz, gmu = numpy.zeros_like(z), numpy.zeros_like(mu)
    for i in range(n):
        for j in range(len(mu)):
            diff = z[i] - mu[j]
            d2 = diff @ diff
            if kernel == 'squared':
                w = (alpha + 1) / alpha * (p[i, j] - q[i, j]) / (1 + d2 / alpha)
            else:
                r = numpy.sqrt(d2)
                w = (alpha + 1) / 2 * (p[i, j] - q[i, j]) / (r * (alpha + r))
            gz[i] += w * diff / n
            gmu[j] -= w * diff / n
    return gz, gmu


def make(n, K, d, dtype=numpy.float64, seed=0):
    rng = numpy.random.RandomState(seed)
    z = rng.randn(n, d).astype(dtype)
    mu = rng.randn(K, d).astype(dtype)
    return z, mu


# -- gradients --------------------------------------------------------------------------

@pytest.mark.parametrize('n, K, d', SHAPES)
@pytest.mark.parametrize('alpha', ALPHAS)
@pytest.mark.parametrize('kernel', KERNELS)
@pytest.mark.parametrize('reduce', ['mean', 'sum'])
def test_kl_backward(n, K, d, alpha, kernel, reduce):
    z, mu = make(n, K, d)
    p = target_distribution(loop_q(z + 0.3, mu, alpha, kernel))  # a P that is not Q's own
    gy = numpy.array(numpy.random.RandomState(1).randn())
    gradient_check.check_backward(
        lambda z, mu: dec_kl_divergence(z, mu, p, alpha, kernel, reduce), (z, mu), gy,
        dtype=numpy.float64, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize('n, K, d', SHAPES)
@pytest.mark.parametrize('alpha', ALPHAS)
@pytest.mark.parametrize('kernel', KERNELS)
def test_soft_assignment_backward(n, K, d, alpha, kernel):
    z, mu = make(n, K, d)
    gq = numpy.random.RandomState(2).randn(n, K)
    gradient_check.check_backward(
        lambda z, mu: soft_assignment(z, mu, alpha, kernel), (z, mu), gq,
        dtype=numpy.float64, atol=1e-6, rtol=1e-5)


def test_kl_gradient_check_catches_a_wrong_kernel():
    # the squared kernel's gradient applied to the distance kernel's forward (the article's
    # bug) must fail the numerical check, or the checks above prove nothing
    from dec_chainer.functions import dec_kl_divergence as mod_fn
    z, mu = make(7, 3, 2)
    p = target_distribution(loop_q(z + 0.3, mu, 1.0, 'distance'))
    fn = mod_fn.__globals__['DECKLDivergence']

    class Buggy(fn):
        def forward_cpu(self, inputs):
            out = super().forward_cpu(inputs)
            z, mu = inputs[:2]
            r = numpy.sqrt(((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1))
            # the article's backward: 2 (p - q) (1 + r)^-1 (z - mu), the squared kernel's
            # formula with the distance in place of the squared distance
            self.kernel = 'squared'
            self.h_t = numpy.ascontiguousarray((1 / (1 + r)).T)  # CPU layout (K, n)
            return out

    with pytest.raises(AssertionError):
        gradient_check.check_backward(lambda z, mu: Buggy(1.0, 'distance')(z, mu, p),
                                      (z, mu), numpy.array(1.0), dtype=numpy.float64,
                                      atol=1e-6, rtol=1e-5)


# -- values against the loops ------------------------------------------------------------

@pytest.mark.parametrize('alpha', ALPHAS)
@pytest.mark.parametrize('kernel', KERNELS)
def test_values_match_loops(alpha, kernel):
    z, mu = make(9, 4, 3, seed=3)
    q = soft_assignment(z, mu, alpha, kernel).array
    numpy.testing.assert_allclose(q, loop_q(z, mu, alpha, kernel), rtol=1e-12)
    p = target_distribution(q)
    numpy.testing.assert_allclose(p, loop_p(q), rtol=1e-12)

    zv, mv = chainer.Variable(z), chainer.Variable(mu)
    loss = dec_kl_divergence(zv, mv, p, alpha, kernel)
    expected = sum(p[i, j] * numpy.log(p[i, j] / q[i, j])
                   for i in range(9) for j in range(4)) / 9
    assert float(loss.array) == pytest.approx(expected, rel=1e-10)
    loss.backward()
    gz, gmu = loop_grads(z, mu, p, alpha, kernel)
    numpy.testing.assert_allclose(zv.grad, gz, rtol=1e-9, atol=1e-14)
    numpy.testing.assert_allclose(mv.grad, gmu, rtol=1e-9, atol=1e-14)


def test_kl_is_zero_iff_p_equals_q():
    z, mu = make(10, 3, 2)
    q = soft_assignment(z, mu).array
    assert float(dec_kl_divergence(z, mu, q).array) == pytest.approx(0, abs=1e-12)
    assert float(dec_kl_divergence(z, mu, target_distribution(q)).array) > 1e-4


def test_sum_is_n_times_mean():
    z, mu = make(12, 3, 2)
    p = target_distribution(soft_assignment(z, mu).array)
    mean = float(dec_kl_divergence(z, mu, p, reduce='mean').array)
    total = float(dec_kl_divergence(z, mu, p, reduce='sum').array)
    assert total == pytest.approx(12 * mean)


def test_target_distribution_properties():
    rng = numpy.random.RandomState(0)
    q = rng.dirichlet(numpy.ones(4), size=50).astype(numpy.float32)
    p = target_distribution(q)
    assert p.dtype == numpy.float32
    numpy.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    # sharpening: the largest entry of each row grows
    assert (p.max(axis=1) >= q.max(axis=1) - 1e-6).all()
    # a cluster nobody is assigned to gets weight 0, not NaN
    q0 = q.copy()
    q0[:, 3] = 0
    q0 /= q0.sum(axis=1, keepdims=True)
    p0 = target_distribution(q0)
    assert numpy.isfinite(p0).all() and (p0[:, 3] == 0).all()
    with pytest.raises(ValueError, match='2-D float'):
        target_distribution(numpy.ones(3))



@pytest.mark.parametrize('order', ['C', 'F'])
def test_target_distribution_any_layout_leaves_q_alone(order):
    # q from soft_assignment is C-ordered; a Fortran-ordered q gives the same P; q is never
    # written to
    z, mu = make(40, 4, 3)
    q = numpy.asarray(soft_assignment(z, mu).array, order=order)
    before = q.copy()
    p = target_distribution(q)
    numpy.testing.assert_array_equal(q, before)
    w = q ** 2 / q.sum(axis=0)
    numpy.testing.assert_allclose(p, w / w.sum(axis=1, keepdims=True), rtol=1e-12)
    assert p.shape == q.shape and p.dtype == q.dtype and p.flags.c_contiguous


def test_public_results_come_in_the_documented_layout():
    """q and P are (n, K) C-contiguous arrays on the CPU, as documented (no transposed
    views of internal (K, n) buffers)."""
    z, mu = make(40, 4, 3)
    q = soft_assignment(z, mu).array
    assert q.shape == (40, 4) and q.flags.c_contiguous
    assert target_distribution(q).flags.c_contiguous


def test_docstring_examples_run():
    """The runnable examples in the functions' docstrings say what the functions do."""
    import doctest
    import importlib
    for name in ('soft_assignment', 'dec_kl_divergence', 'target_distribution'):
        module = importlib.import_module('dec_chainer.functions.' + name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# -- numerics and dtypes -----------------------------------------------------------------

@pytest.mark.parametrize('kernel', KERNELS)
@pytest.mark.parametrize('alpha', [1.0, 0.1, 50.0])
def test_far_points_stay_finite_in_float32(kernel, alpha):
    rng = numpy.random.RandomState(0)
    z = rng.randn(32, 10).astype(numpy.float32)
    z[:16] += 1e3  # far from every centroid
    mu = rng.randn(5, 10).astype(numpy.float32)
    q = soft_assignment(z, mu, alpha, kernel).array
    assert numpy.isfinite(q).all()
    # log k reaches -250 here: float32 rounding of it is ~1.5e-5 relative
    numpy.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-4)
    p = target_distribution(q)
    zv, mv = chainer.Variable(z), chainer.Variable(mu)
    loss = dec_kl_divergence(zv, mv, p, alpha, kernel)
    loss.backward()
    assert numpy.isfinite(loss.array) and float(loss.array) >= -1e-6
    assert numpy.isfinite(zv.grad).all() and numpy.isfinite(mv.grad).all()
    # with alpha 50 the kernel is (1 + d/50)^-25.5: for the far points it underflows to 0 in
    # float32 (a naive q would be 0/0 = NaN); the log-space computation keeps the float64
    # answer
    if alpha == 50.0 and kernel == 'squared':
        with numpy.errstate(under='ignore'):
            naive = (1 + ((z[:16, None, :] - mu[None]) ** 2).sum(-1) / alpha) ** -25.5
        assert (naive == 0).all()
    q64 = soft_assignment(z.astype(numpy.float64), mu.astype(numpy.float64), alpha,
                          kernel).array
    numpy.testing.assert_allclose(q, q64, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize('kernel', KERNELS)
def test_points_whose_squared_distance_overflows_float32(kernel):
    """At |z| ~ 1e20 the squared distances (1e40) overflow float32: q, P and the loss are
    then computed in float64 and stay finite, equal to the float64 answer."""
    rng = numpy.random.RandomState(1)
    z = rng.randn(12, 10).astype(numpy.float32)
    z[:6] *= numpy.float32(1e20)
    mu = rng.randn(4, 10).astype(numpy.float32)
    q = soft_assignment(z, mu, 1.0, kernel).array
    assert q.dtype == numpy.float32 and numpy.isfinite(q).all()
    q64 = soft_assignment(z.astype(numpy.float64), mu.astype(numpy.float64), 1.0,
                          kernel).array
    numpy.testing.assert_allclose(q, q64, rtol=1e-5, atol=1e-7)
    zv = chainer.Variable(z)
    loss = dec_kl_divergence(zv, mu, target_distribution(q), 1.0, kernel)
    loss.backward()
    assert numpy.isfinite(loss.array) and numpy.isfinite(zv.grad).all()


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('kernel', KERNELS)
def test_dtypes_are_preserved(dtype, kernel):
    z, mu = make(16, 4, 3, dtype=dtype)
    p = target_distribution(soft_assignment(z + 0.5, mu).array)
    zv, mv = chainer.Variable(z), chainer.Variable(mu)
    q = soft_assignment(zv, mv, 1.5, kernel)
    loss = dec_kl_divergence(zv, mv, p, 1.5, kernel)
    assert q.dtype == dtype and loss.dtype == dtype and p.dtype == dtype
    loss.backward()
    assert zv.grad.dtype == dtype and mv.grad.dtype == dtype
    zv.cleargrad()
    mv.cleargrad()
    chainer.functions.sum(q * q).backward()
    assert zv.grad.dtype == dtype and mv.grad.dtype == dtype


def test_coincident_point_and_centroid_distance_kernel():
    # the distance kernel's gradient is undefined at 0: it must stay finite there
    z = numpy.array([[1.0, 2.0], [3.0, -1.0]], dtype=numpy.float32)
    mu = z.copy()
    p = target_distribution(soft_assignment(z, mu, kernel='distance').array)
    zv, mv = chainer.Variable(z), chainer.Variable(mu)
    dec_kl_divergence(zv, mv, p, kernel='distance').backward()
    assert numpy.isfinite(zv.grad).all() and numpy.isfinite(mv.grad).all()


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize('zs, ms, ps, zt, mt', [
    ((4, 3), (2, 2), (4, 2), numpy.float32, numpy.float32),   # feature sizes differ
    ((4, 3), (2, 3), (4, 3), numpy.float32, numpy.float32),   # p has K+1 columns
    ((4, 3), (2, 3), (5, 2), numpy.float32, numpy.float32),   # p has n+1 rows
    ((4, 3), (2, 3), (4, 2), numpy.float32, numpy.float64),   # dtypes differ
    ((4,), (2, 3), (4, 2), numpy.float32, numpy.float32),     # z not 2-D
])
def test_type_checks(zs, ms, ps, zt, mt):
    z = numpy.zeros(zs, dtype=zt)
    mu = numpy.zeros(ms, dtype=mt)
    p = numpy.zeros(ps, dtype=zt)
    with pytest.raises(InvalidType):
        dec_kl_divergence(z, mu, p)


def test_integer_input_rejected():
    with pytest.raises(InvalidType):
        soft_assignment(numpy.zeros((3, 2), numpy.int32), numpy.zeros((2, 2), numpy.int32))


@pytest.mark.parametrize('kwargs, match', [
    ({'alpha': 0}, 'alpha must be a positive'),
    ({'alpha': -1.0}, 'alpha must be a positive'),
    ({'alpha': float('inf')}, 'alpha must be a positive'),
    ({'kernel': 'cauchy'}, 'kernel must be one of'),
])
def test_bad_parameters(kwargs, match):
    z, mu = make(3, 2, 2)
    with pytest.raises(ValueError, match=match):
        soft_assignment(z, mu, **kwargs)
    with pytest.raises(ValueError, match=match):
        dec_kl_divergence(z, mu, numpy.full((3, 2), 0.5), **kwargs)
