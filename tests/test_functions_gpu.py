"""GPU twins of the function tests: the fused CuPy kernels against the NumPy path."""

import numpy
import pytest

import chainer
from chainer import gradient_check

from dec_chainer import target_distribution
from dec_chainer.functions import dec_kl_divergence, soft_assignment

from conftest import quiet

pytestmark = pytest.mark.gpu


def to_gpu(*arrays):
    import cupy
    return [cupy.asarray(a) for a in arrays]


def make(n, K, d, dtype, seed=0, far=False):
    rng = numpy.random.RandomState(seed)
    z = rng.randn(n, d).astype(dtype)
    if far:
        z[: n // 2] += 1e3
    return z, rng.randn(K, d).astype(dtype)


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
@pytest.mark.parametrize('kernel', ['squared', 'distance'])
@pytest.mark.parametrize('alpha', [0.5, 1.0, 2.0])
@pytest.mark.parametrize('far', [False, True])
def test_gpu_matches_cpu(dtype, kernel, alpha, far):
    z, mu = make(300, 10, 10, dtype, far=far)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == numpy.float32 else dict(rtol=1e-10)
    q_cpu = soft_assignment(z, mu, alpha, kernel).array
    zg, mug = to_gpu(z, mu)
    q_gpu = soft_assignment(zg, mug, alpha, kernel).array
    numpy.testing.assert_allclose(q_gpu.get(), q_cpu, **tol)
    p_cpu = target_distribution(q_cpu)
    p_gpu = target_distribution(q_gpu)
    assert p_gpu.dtype == dtype
    numpy.testing.assert_allclose(p_gpu.get(), p_cpu, **tol)

    results = []
    for xp_z, xp_mu, p in ((z, mu, p_cpu), (zg, mug, p_gpu)):
        zv, mv = chainer.Variable(xp_z), chainer.Variable(xp_mu)
        loss = dec_kl_divergence(zv, mv, p, alpha, kernel)
        loss.backward()
        results.append([chainer.backend.CpuDevice().send(a)
                        for a in (loss.array, zv.grad, mv.grad)])
        assert loss.dtype == dtype and zv.grad.dtype == dtype
    for cpu, gpu in zip(*results):
        assert numpy.isfinite(gpu).all()
        numpy.testing.assert_allclose(gpu, cpu, rtol=tol.get('rtol'),
                                      atol=max(tol.get('atol', 0), 1e-5 * abs(cpu).max()))


def test_gpu_loss_sums_in_float64_like_the_cpu():
    """A million float32 terms: summed in float32 the loss drifts by ~1e-4 relative; in
    float64 (CPU and GPU alike) the two agree to float32 rounding of the result."""
    z, mu = make(1000000, 10, 10, numpy.float32, seed=3)
    p = target_distribution(soft_assignment(z + 0.5, mu).array)
    cpu = float(dec_kl_divergence(z, mu, p, reduce='sum').array)
    gpu = float(dec_kl_divergence(*to_gpu(z, mu, p), reduce='sum').array)
    assert gpu == pytest.approx(cpu, rel=1e-6)


@pytest.mark.parametrize('kernel', ['squared', 'distance'])
def test_gpu_backward_numerical(kernel):
    z, mu = to_gpu(*make(20, 4, 3, numpy.float64))
    p = target_distribution(soft_assignment(z + 0.3, mu, 1.5, kernel).array)
    gradient_check.check_backward(
        lambda z, mu: dec_kl_divergence(z, mu, p, 1.5, kernel), (z, mu),
        to_gpu(numpy.array(0.7))[0], dtype=numpy.float64, atol=1e-6, rtol=1e-5)
    gq = to_gpu(numpy.random.RandomState(0).randn(20, 4))[0]
    gradient_check.check_backward(
        lambda z, mu: soft_assignment(z, mu, 1.5, kernel), (z, mu), gq,
        dtype=numpy.float64, atol=1e-6, rtol=1e-5)


def test_gpu_pipeline_on_digits(tmp_path):
    import dec_chainer
    from dec_chainer.datasets import load_digits
    X, y = load_digits()
    config = dec_chainer.get_config('quick', hidden_dims=(128, 128, 256, 10),
                                    finetune_iters=400, dec_max_iter=300,
                                    update_interval=30, kmeans_n_init=5)
    model, _, report = dec_chainer.fit_dec(X, y, 10, config, out=str(tmp_path),
                                        seed=0, context=quiet(device=0))
    assert report['metrics']['dec']['acc'] > 0.5
    assert 'cuda' in str(model.device).lower() or 'cupy' in str(model.device).lower()
