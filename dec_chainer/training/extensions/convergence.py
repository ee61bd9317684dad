"""The DEC phase's stop: the hard labels compared every ``check_interval`` iterations."""

import numpy

import chainer
from chainer.training import extension


class ConvergenceCheck(extension.Extension):

    """Compares the hard labels with those of the previous check; :attr:`stop_trigger` ends
    training when fewer than ``tol`` of them changed, or after ``max_iter`` iterations.

    Register it with the trigger ``(check_interval, 'iteration')`` (a multiple of the
    refresh interval: it runs after the refresh of the same iteration). The first check
    compares with the labels the refresh computed at the start (the argmax of ``Q`` of the
    k-means centroids under the Student's t kernel). Each check reports
    ``dec/stop_change``, the fraction compared with ``tol`` (``dec/label_change`` of
    :class:`~dec_chainer.training.extensions.RefreshTargetDistribution` counts changes
    since the previous refresh; the two differ when checks are rarer than refreshes, as in
    the ``article`` preset). Under MPI the fraction is over every rank's rows
    (``refresh.fraction_changed``), so all ranks stop at the same iteration.

    ``converged``, ``last_change`` (the fraction at the last check) and ``checked_at`` say
    why and where training stopped; they and the labels of the last check are part of
    snapshots.
    """

    priority = extension.PRIORITY_WRITER  # after the refresh, before LogReport

    def __init__(self, refresh, tol=0.001, max_iter=100000):
        self.refresh = refresh
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.previous = None
        self.checked_at = -1
        self.last_change = None
        self.converged = False
        self.stop_trigger = _Stop(self)

    def initialize(self, trainer):
        if self.previous is None:  # a fresh start (a resumed run restored them)
            self.previous = self.refresh.keep_labels()

    def __call__(self, trainer):
        it = trainer.updater.iteration
        if it == 0 or it == self.checked_at:
            return
        self.last_change = self.refresh.fraction_changed(self.refresh.labels, self.previous)
        self.previous = self.refresh.keep_labels(self.previous)
        self.checked_at = it
        self.converged = self.last_change < self.tol
        chainer.report({'dec/stop_change': self.last_change})

    def serialize(self, serializer):
        self.checked_at = int(serializer('checked_at', self.checked_at))
        self.converged = bool(serializer('converged', self.converged))
        last = serializer('last_change',
                          numpy.nan if self.last_change is None else self.last_change)
        self.last_change = None if numpy.isnan(last) else float(last)
        if self.previous is None:
            self.previous = self.refresh.new_labels('previous')
        serializer('previous', self.previous)


class _Stop:

    """The trainer's stop trigger of a :class:`ConvergenceCheck`: it only reads the check."""

    def __init__(self, check):
        self.check = check

    def get_training_length(self):
        return self.check.max_iter, 'iteration'

    def __call__(self, trainer):
        return self.check.converged or trainer.updater.iteration >= self.check.max_iter
