"""dec_chainer.training.optimizers: Chainer's MomentumSGD with a BLAS update on the CPU."""

import numpy
import pytest

import chainer

from dec_chainer.training.optimizers import MomentumSGD


class _Two(chainer.Chain):
    def __init__(self, dtype=numpy.float32):
        super().__init__()
        rng = numpy.random.RandomState(0)
        with self.init_scope():
            self.w = chainer.Parameter(rng.randn(40, 30).astype(dtype))
            self.b = chainer.Parameter(rng.randn(30).astype(dtype))


def _steps(opt_class, n=20, dtype=numpy.float32, momentum_schedule=None, grads=None,
           bias_lr=0.1):
    model = _Two(dtype)
    opt = opt_class(lr=0.05, momentum=0.9)
    opt.setup(model)
    model.b.update_rule.hyperparam.lr = bias_lr  # the bias multiplier's way
    ids = (id(model.w.array), id(model.b.array))
    rng = numpy.random.RandomState(1)
    for i in range(n):
        if momentum_schedule is not None:
            opt.momentum = momentum_schedule(i)
        model.cleargrads()
        model.w.grad = (grads or rng.randn)(40, 30).astype(dtype)
        model.b.grad = (grads or rng.randn)(30).astype(dtype)
        opt.update()
    assert (id(model.w.array), id(model.b.array)) == ids  # updated in place
    return model, opt


@pytest.mark.parametrize('dtype', [numpy.float32, numpy.float64])
def test_same_update_as_chainers_momentum_sgd(dtype):
    ramp = lambda i: min(0.9, 0.9 * i / 10)  # noqa: E731 (the momentum ramp's way)
    ours, opt = _steps(MomentumSGD, dtype=dtype, momentum_schedule=ramp)
    ref, ref_opt = _steps(chainer.optimizers.MomentumSGD, dtype=dtype, momentum_schedule=ramp)
    start = _Two(dtype)
    moved = numpy.abs(ref.w.array - start.w.array).max()
    assert moved > 0.5
    eps = numpy.finfo(dtype).eps
    for name in ('w', 'b'):
        a, b = getattr(ours, name), getattr(ref, name)
        assert a.array.dtype == dtype
        # the same update up to rounding: one rounding per axpy instead of two
        numpy.testing.assert_allclose(a.array, b.array, rtol=0, atol=50 * eps * 4)
        numpy.testing.assert_allclose(a.update_rule.state['v'], b.update_rule.state['v'],
                                      rtol=0, atol=50 * eps * 4)
    # the bias's own lr was used: with the model's lr for both, b ends elsewhere
    other, _ = _steps(MomentumSGD, dtype=dtype, momentum_schedule=ramp, bias_lr=0.05)
    assert numpy.abs(other.b.array - ours.b.array).max() > 0.1
    assert numpy.array_equal(other.w.array, ours.w.array)


def test_the_lr_and_momentum_are_read_at_every_update():
    model = _Two()
    opt = MomentumSGD(lr=0.5, momentum=0.0)
    opt.setup(model)
    w0 = model.w.array.copy()
    model.w.grad = numpy.ones_like(w0)
    model.b.grad = numpy.zeros_like(model.b.array)
    opt.update()
    numpy.testing.assert_allclose(model.w.array, w0 - 0.5, rtol=1e-6)
    opt.lr, opt.momentum = 0.25, 0.5
    model.w.grad = numpy.ones_like(w0)
    opt.update()  # v = 0.5 * (-0.5) - 0.25 = -0.5
    numpy.testing.assert_allclose(model.w.array, w0 - 1.0, rtol=1e-6)


def test_arrays_blas_cannot_take_go_to_chainers_rule():
    from dec_chainer import _blas
    assert set(_blas.routines()) == {numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)}
    a = numpy.zeros((4, 3), numpy.float32)
    assert _blas.momentum_step(a, a.copy(), a.copy(), 0.1, 0.9)  # the tests above: BLAS
    for v, g in ((a.copy(), a.astype(numpy.float64)), (a.copy(), numpy.asfortranarray(a)),
                 (a.copy(), a[:, :2].copy()), (a.copy(), a.tolist())):
        assert not _blas.momentum_step(a, v, g, 0.1, 0.9)
    for dtype in (numpy.float16,):
        ours, _ = _steps(MomentumSGD, n=3, dtype=dtype)
        ref, _ = _steps(chainer.optimizers.MomentumSGD, n=3, dtype=dtype)
        assert numpy.array_equal(ours.w.array, ref.w.array)
    model = _Two()
    opt = MomentumSGD(lr=0.1, momentum=0.9)
    opt.setup(model)
    w0 = model.w.array.copy()
    model.w.grad = numpy.asfortranarray(numpy.ones((40, 30), numpy.float32))
    model.b.grad = numpy.ones(30, numpy.float32)
    opt.update()
    numpy.testing.assert_allclose(model.w.array, w0 - 0.1, rtol=1e-6)


def test_snapshots_load_across_chainers_optimizer_and_ours(tmp_path):
    ours, opt = _steps(MomentumSGD, n=5)
    path = str(tmp_path / 'opt.npz')
    chainer.serializers.save_npz(path, opt)
    ref_model = _Two()
    ref = chainer.optimizers.MomentumSGD(lr=0.05, momentum=0.9)
    ref.setup(ref_model)
    chainer.serializers.load_npz(path, ref)
    assert numpy.array_equal(ref_model.w.update_rule.state['v'],
                             ours.w.update_rule.state['v'])
    assert ref.t == opt.t == 5
