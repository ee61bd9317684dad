"""Hyperparameter schedules and per-parameter learning-rate multipliers."""

from chainer.training import extensions


class StepDecay(extensions.StepShift):

    """Multiply an optimizer attribute (``lr``) by ``gamma`` every ``step`` iterations.

    Chainer's ``StepShift`` (with ``initialize``/``serialize``, so a resumed run keeps its
    place in the schedule) storing Python floats: a NumPy float64 hyperparameter would make
    every float32 update compute in float64 under NumPy 2's promotion rules.
    """

    def __init__(self, attr='lr', gamma=0.1, step=20000, init=None, optimizer=None):
        super().__init__(attr, gamma, step, init=init, optimizer=optimizer)

    def _update_value(self, optimizer, value):
        super()._update_value(optimizer, float(value))


class LinearRamp(extensions.LinearShift):

    """Ramp an attribute (``momentum``) linearly, e.g. from 0 to 0.9 over 1,000 iterations.

    Chainer's ``LinearShift``, storing Python floats (see :class:`StepDecay`).
    """

    def _update_value(self, optimizer, value):
        super()._update_value(optimizer, float(value))


class GradientScale:

    """Update-rule hook multiplying a parameter's gradient by ``factor`` before the update.

    With plain momentum SGD and no weight decay this is exactly a per-parameter learning
    rate multiplier (Caffe's ``lr_mult``), and it follows the optimizer's lr schedule.
    """

    name = 'gradient_scale'
    timing = 'pre'

    def __init__(self, factor):
        self.factor = float(factor)

    def __call__(self, rule, param):
        if param.grad is not None:
            param.grad *= self.factor


def set_bias_lr_mult(link, factor):
    """Give every bias ``b`` under ``link`` ``factor`` times the lr (after optimizer setup)."""
    if factor == 1:
        return
    for name, param in link.namedparams():
        if name.rsplit('/', 1)[-1] == 'b' and param.update_rule is not None:
            param.update_rule.add_hook(GradientScale(factor))
