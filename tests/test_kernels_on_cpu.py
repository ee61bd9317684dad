"""Every CUDA kernel and GPU branch of the package run on the CPU (tests/cupy_on_cpu.py:
the kernels' operations as C++ through g++, CuPy's array calls as NumPy's) and agree with
the NumPy path: both kernels, alpha != 1, far points, float32 and float64, n not a
multiple of any block size (issue 24, second part)."""

import numpy
import pytest

import chainer

import sys

from dec_chainer.functions import _kernels, _student_t
from dec_chainer.functions.dec_kl_divergence import DECKLDivergence, dec_kl_divergence
from dec_chainer.functions.soft_assignment import SoftAssignment, soft_assignment

import cupy_on_cpu

target_distribution = sys.modules['dec_chainer.functions.target_distribution']

pytestmark = pytest.mark.skipif(cupy_on_cpu.GXX is None, reason='no g++ on this machine')

CASES = [(kernel, alpha, dtype, far) for kernel in ('squared', 'distance')
         for alpha in (1.0, 0.6) for dtype in (numpy.float32, numpy.float64)
         for far in (False, True)]
TOL = {numpy.float32: dict(rtol=2e-4, atol=1e-6), numpy.float64: dict(rtol=1e-9, atol=1e-12)}


def data(dtype, far, n=1031, d=5, K=7, seed=0):
    rng = numpy.random.RandomState(seed)
    z = rng.normal(size=(n, d)).astype(dtype)
    mu = rng.normal(size=(K, d)).astype(dtype)
    if far:  # squared distances beyond float32's range
        z[:5] *= dtype(1e20)
    p = rng.uniform(0.01, 1, size=(n, K)).astype(dtype)
    p /= p.sum(axis=1, keepdims=True)
    return z, mu, p


def cpu_grads(fn, z, mu, gy):
    zv, muv = chainer.Variable(z.copy()), chainer.Variable(mu.copy())
    y = fn(zv, muv)
    y.grad = gy
    y.backward()
    return y.array, zv.grad, muv.grad


def assert_grads_close(gz, gmu, gz_ref, gmu_ref, dtype):
    """Both gradients within the dtype's tolerance, relative to the largest entry (far
    points make some entries vanish next to others)."""
    scale = max(numpy.abs(gz_ref).max(), numpy.abs(gmu_ref).max())
    for got, ref in ((gz, gz_ref), (gmu, gmu_ref)):
        numpy.testing.assert_allclose(got, ref, rtol=TOL[dtype]['rtol'],
                                      atol=TOL[dtype]['rtol'] * scale)


@pytest.mark.parametrize('kernel, alpha, dtype, far', CASES)
def test_log_q_gpu_agrees_with_numpy(monkeypatch, kernel, alpha, dtype, far):
    z, mu, _ = data(dtype, far)
    logq_t, q_t, h_t = _student_t.log_q_cpu(z, mu, alpha, kernel)
    with cupy_on_cpu.patched(monkeypatch):
        logq, q, h = _student_t.log_q_gpu(z, mu, alpha, kernel)
    assert logq.dtype == q.dtype == h.dtype == dtype
    numpy.testing.assert_allclose(logq, logq_t.T, **TOL[dtype])
    numpy.testing.assert_allclose(q, q_t.T, **TOL[dtype])
    numpy.testing.assert_allclose(h, h_t.T, **TOL[dtype])
    assert numpy.isfinite(logq).all() and numpy.allclose(q.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize('kernel, alpha, dtype, far', CASES)
def test_soft_assignment_forward_and_backward_gpu_agree(monkeypatch, kernel, alpha, dtype,
                                                        far):
    z, mu, _ = data(dtype, far)
    gq = numpy.random.RandomState(1).normal(size=(len(z), len(mu))).astype(dtype)
    q_ref, gz_ref, gmu_ref = cpu_grads(lambda a, b: soft_assignment(a, b, alpha, kernel),
                                       z, mu, gq)
    f = SoftAssignment(alpha, kernel)
    with cupy_on_cpu.patched(monkeypatch):
        q, = f.forward_gpu((z, mu))
        gz, gmu = f.backward_gpu((z, mu), (gq,))
    numpy.testing.assert_allclose(q, q_ref, **TOL[dtype])
    assert_grads_close(gz, gmu, gz_ref, gmu_ref, dtype)


@pytest.mark.parametrize('kernel, alpha, dtype, far', CASES)
def test_kl_forward_and_backward_gpu_agree(monkeypatch, kernel, alpha, dtype, far):
    z, mu, p = data(dtype, far)
    gy = numpy.asarray(1.7, dtype)
    loss_ref, gz_ref, gmu_ref = cpu_grads(
        lambda a, b: dec_kl_divergence(a, b, p, alpha, kernel), z, mu, gy)
    f = DECKLDivergence(alpha, kernel)
    with cupy_on_cpu.patched(monkeypatch):
        loss, = f.forward_gpu((z, mu, p))
        gz, gmu, gp = f.backward_gpu((z, mu, p), (gy,))
    assert gp is None and loss.dtype == dtype
    numpy.testing.assert_allclose(loss, loss_ref, **TOL[dtype])
    assert_grads_close(gz, gmu, gz_ref, gmu_ref, dtype)


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('shared', [False, True])
def test_target_distribution_gpu_agrees(monkeypatch, dtype, shared):
    rng = numpy.random.RandomState(2)
    q = rng.uniform(size=(1031, 7)).astype(dtype)
    q /= q.sum(axis=1, keepdims=True)
    f = target_distribution.cluster_frequencies(q) * 3 if shared else None
    ref = target_distribution.target_distribution(q, f)
    with cupy_on_cpu.patched(monkeypatch):
        p = target_distribution.target_distribution(q, f)
    assert p.dtype == dtype
    numpy.testing.assert_allclose(p, ref, **TOL[dtype])


def test_every_kernel_is_exercised(monkeypatch):
    """The tests above reach every kernel the package defines."""
    called = set()
    real = cupy_on_cpu.ElementwiseKernel.__call__, cupy_on_cpu.ReductionKernel.__call__

    def spy(real_call):
        def call(self, *args, **kwargs):
            called.add(self.name)
            return real_call(self, *args, **kwargs)
        return call
    monkeypatch.setattr(cupy_on_cpu.ElementwiseKernel, '__call__', spy(real[0]))
    monkeypatch.setattr(cupy_on_cpu.ReductionKernel, '__call__', spy(real[1]))
    z, mu, p = data(numpy.float32, False, n=33)
    with cupy_on_cpu.patched(monkeypatch):
        f = SoftAssignment()
        q, = f.forward_gpu((z, mu))
        f.backward_gpu((z, mu), (q,))
        g = DECKLDivergence()
        g.forward_gpu((z, mu, p))
        g.backward_gpu((z, mu, p), (numpy.asarray(1, numpy.float32),))
        target_distribution.target_distribution(q)
    assert called == set(_kernels.ELEMENTWISE) | set(_kernels.REDUCTION)


def test_cupy_semantics_the_harness_keeps():
    """T binds one dtype; a raw parameter is indexed by the operation; size= sets i."""
    k = cupy_on_cpu.ElementwiseKernel('T x, T y', 'T z', 'z = x * y', 'mul')
    numpy.testing.assert_array_equal(k(numpy.arange(3.0), 2.0), [0, 2, 4])
    with pytest.raises(TypeError, match='T bound to several dtypes'):
        k(numpy.ones(3, numpy.float32), numpy.ones(3, numpy.float64))
    shift = cupy_on_cpu.ElementwiseKernel('raw T x', 'raw T y', 'y[i] = x[i + 1]', 'shift')
    out = numpy.zeros(3)
    shift(numpy.arange(4.0), out, size=3)
    numpy.testing.assert_array_equal(out, [1, 2, 3])
    s = cupy_on_cpu.ReductionKernel('T x', 'float64 s', 'x * x', 'a + b', 's = a', '0', 'ss',
                                    reduce_type='float64')
    assert float(s(numpy.arange(4, dtype=numpy.float32))) == 14.0
