"""Chainer's MomentumSGD with its CPU update done in place by NumPy's BLAS.

Chainer's CPU rule runs ``v *= momentum; v -= lr * grad; param += v``: four passes over
memory and a temporary as large as the parameter, on one core. BLAS ``scal`` and ``axpy``
on NumPy's own OpenBLAS threads (:func:`dec_chainer._blas.momentum_step`) do the same
update in three passes without a temporary (``scripts/bench_train.py`` times both).
``axpy`` rounds ``v - lr grad`` once (a fused multiply-add) where NumPy rounds the product
and then the difference, so results differ from Chainer's rule in the last bit.

The state (``v``) and the hyperparameters are Chainer's: snapshots of either optimizer load
into the other, a per-parameter ``lr`` (the bias multiplier) and a momentum changed during
training (the ramp) apply as with Chainer's rule. Arrays BLAS cannot take (float16, not
contiguous, NumPy without its bundled OpenBLAS) go to Chainer's rule, and GPU arrays to
Chainer's fused CUDA kernel, unchanged.
"""

from chainer.optimizers import momentum_sgd

from dec_chainer import _blas


class MomentumSGDRule(momentum_sgd.MomentumSGDRule):

    """Chainer's rule, with the CPU update in BLAS where it can (see the module)."""

    def update_core_cpu(self, param):
        grad = param.grad
        if grad is None:
            return
        if not _blas.momentum_step(param.data, self.state['v'], grad, self.hyperparam.lr,
                                   self.hyperparam.momentum):
            super().update_core_cpu(param)


class MomentumSGD(momentum_sgd.MomentumSGD):

    """``chainer.optimizers.MomentumSGD`` whose rules update CPU arrays with BLAS."""

    def create_update_rule(self):
        return MomentumSGDRule(self.hyperparam)
