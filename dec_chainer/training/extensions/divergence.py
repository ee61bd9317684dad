"""Stops a training phase at its first non-finite loss, with an error that says why."""

import math

import numpy

from chainer.training import extension

from dec_chainer.errors import UserError


class DivergenceError(UserError):

    """Training diverged (the loss became NaN or infinite). The input data was finite: the
    usual cause is a learning rate too large for the data's scale."""


class StopOnDivergence(extension.Extension):

    """Raises :class:`DivergenceError` as soon as the reported loss is not finite.

    It runs before LogReport and the snapshot writer of the same iteration, so a diverged
    state is never logged as a result. On the CPU the loss is checked every iteration (a
    scalar read); on a GPU every ``gpu_interval`` iterations, and at every iteration that
    writes a snapshot, so the check does not synchronise the device at each step.

    Args:
        phase (str): what is training, for the message (``'pretraining layer2'``, ...).
        hint (str or callable): the likely cause and the fix, for the message (a callable
            is called only when the loss diverged).
        snapshot_trigger (callable): the trigger of the snapshot writer (asked here first).
    """

    trigger = (1, 'iteration')
    priority = extension.PRIORITY_WRITER + 20  # before metrics, LogReport and snapshots

    def __init__(self, phase, hint='', key='main/loss', snapshot_trigger=None,
                 gpu_interval=100):
        self.phase = phase
        self.hint = hint
        self.key = key
        self.snapshot_trigger = snapshot_trigger
        self.gpu_interval = gpu_interval

    def __call__(self, trainer):
        loss = trainer.observation.get(self.key)
        if loss is None:
            return
        array = getattr(loss, 'array', loss)
        it = trainer.updater.iteration
        if not isinstance(array, (numpy.ndarray, numpy.generic, float)) and not (
                it % self.gpu_interval == 0
                or (self.snapshot_trigger is not None and self.snapshot_trigger(trainer))):
            return
        value = float(array)
        if not math.isfinite(value):
            raise DivergenceError(
                '{} diverged at iteration {}: the loss is {}. The data is finite; {}'.format(
                    self.phase, it, value,
                    (self.hint() if callable(self.hint) else self.hint)
                    or 'lower the learning rate.'))
