"""The DEC phase's extensions: refresh of the target distribution P, metrics, convergence."""

import numpy

import chainer
from chainer import backend
from chainer.training import extension

from dec_chainer import _files, distributed
from dec_chainer.evaluations import eval_clustering
from dec_chainer.functions import cluster_frequencies, target_distribution


class RefreshTargetDistribution(extension.Extension):

    """Recompute ``P`` from the soft assignment of all points (run every update_interval).

    Also keeps the hard labels (argmax of ``Q``) and reports ``dec/label_change``, the
    fraction of points whose label changed since the previous refresh. ``P`` and the labels
    are part of snapshots, so a resumed run continues from the same target.

    Args:
        model: the :class:`~dec_chainer.links.DeepEmbeddedClustering` being trained.
        X (array): the points; ``p`` (array, (n, K)): their target rows, written in place
            (the trainer's dataset is ``TupleDataset(X, p)``).
        comm: a ChainerMN communicator (None: one process). Under MPI ``X`` (and ``p``,
            ``initial_labels``) are this rank's rows; the cluster frequencies ``f_j`` and
            the label changes are summed over all ranks, so ``P`` is the one a single
            process computes from all rows and every rank sees the same label change.
        scratch (str): for data larger than memory, a directory where the per-row arrays
            (labels) are memory-mapped files; ``q`` is then computed a batch at a time
            into ``p`` (give a memory-mapped ``p`` too) and ``P`` made from it in place,
            so memory does not grow with the number of rows. None: arrays in memory.
    """

    priority = extension.PRIORITY_WRITER + 10  # before metrics, triggers and LogReport

    #: rows per block of the block-wise passes over per-row arrays (their temporaries are
    #: a few of these blocks x K values)
    BLOCK = 1 << 16

    def __init__(self, model, X, p, initial_labels=None, batchsize=2048, comm=None,
                 scratch=None):
        self.model = model
        self.X, self.p = X, p
        self.batchsize = batchsize
        self.comm = comm
        self.scratch = scratch
        self._buffer = 0
        self.labels = None
        if initial_labels is not None:
            self.labels = self._new_labels()
            self.labels[...] = initial_labels
        self.label_change = None
        self.n_refresh = 0

    def _new_labels(self, name=None):
        if name is None:  # two alternating files: the current labels and the next ones
            self._buffer = 1 - self._buffer
            name = 'labels{}'.format(self._buffer)
        return _files.new_array(self.scratch, name, (len(self.X),), numpy.int64)

    def keep_labels(self, into=None):
        """A copy of the current labels (into ``into``, or a new array: in memory, or the
        scratch file ``previous``)."""
        if into is None:
            into = self._new_labels('previous')
        into[...] = self.labels
        return into

    def initialize(self, trainer):
        if self.n_refresh == 0:  # a fresh start; a resumed run restored P from its snapshot
            self.refresh()

    def refresh(self):
        cpu = backend.CpuDevice()
        if self.scratch is None:  # q of all rows at once; f_j of every rank's rows
            p, q = self.model.target_distribution_dataset(
                self.X, self.batchsize, None if self.comm is None else
                lambda f: distributed.allreduce_sum(self.comm, f))
            self.p[...] = cpu.send(p)
            labels = cpu.send(q.argmax(axis=1)).astype(numpy.int64)
        else:  # a batch at a time: q into p's rows, f_j summed (float64), then P in place
            labels = self._new_labels()
            f, start = numpy.zeros(self.p.shape[1]), 0
            for q in self.model.soft_assignment_batches(self.X, self.batchsize):
                q = cpu.send(q)
                self.p[start:start + len(q)] = q
                labels[start:start + len(q)] = q.argmax(axis=1)
                f += cluster_frequencies(q)
                start += len(q)
            f = distributed.allreduce_sum(self.comm, f).astype(self.p.dtype)
            for start in range(0, len(self.p), self.BLOCK):
                block = self.p[start:start + self.BLOCK]
                block[...] = target_distribution(numpy.ascontiguousarray(block), f)
        if self.labels is not None:
            self.label_change = self.fraction_changed(labels, self.labels)
        self.labels = labels
        self.n_refresh += 1

    def fraction_changed(self, labels, previous):
        """The fraction of all points (every rank's) whose label differs between the two."""
        b = self.BLOCK
        changed = sum(numpy.count_nonzero(labels[i:i + b] != previous[i:i + b])
                      for i in range(0, len(labels), b))
        counts = numpy.array([changed, len(labels)], dtype=numpy.float64)
        changed, total = distributed.allreduce_sum(self.comm, counts)
        return float(changed / total)

    def __call__(self, trainer):
        self.refresh()
        if self.label_change is not None:
            chainer.report({'dec/label_change': self.label_change})

    def serialize(self, serializer):
        self.n_refresh = serializer('n_refresh', self.n_refresh)
        serializer('p', self.p)
        if self.labels is None:
            self.labels = self._new_labels()
        serializer('labels', self.labels)


class ClusteringMetrics(extension.Extension):

    """Reports ``dec/acc``, ``dec/nmi``, ``dec/ari`` of the current labels against ``y``.

    Under MPI (``refresh.comm``) every rank's labels are gathered at rank 0, which holds
    ``y_true`` for all points and reports; the other ranks pass ``y_true=None``.
    """

    priority = extension.PRIORITY_WRITER

    def __init__(self, refresh, y_true):
        self.refresh = refresh
        self.y_true = None if y_true is None else numpy.asarray(y_true)

    def __call__(self, trainer):
        labels = distributed.gather_rows(self.refresh.comm, self.refresh.labels)
        if distributed.is_root(self.refresh.comm):
            m = eval_clustering(self.y_true, labels)
            chainer.report({'dec/' + k: v for k, v in m.items()})


class ConvergenceTrigger:

    """Stop trigger of the DEC phase: fewer than ``tol`` of the labels changed, or max_iter.

    Every ``check_interval`` iterations (a multiple of the refresh interval) the current
    hard labels are compared with those of the previous check (at the start: the argmax of
    ``Q`` computed by the refresh extension's ``initialize``, i.e. the labels of the
    k-means centroids under the Student's t kernel). ``converged`` and ``last_change`` (the
    fraction changed at the last check; :class:`ReportConvergence` logs it) say why and
    where training stopped; all of it is part of snapshots.
    """

    def __init__(self, refresh, tol=0.001, max_iter=100000, check_interval=160):
        self.refresh = refresh
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self.check_interval = int(check_interval)
        self._previous = None
        self._checked_at = -1
        self.last_change = None
        self.converged = False

    def get_training_length(self):
        return self.max_iter, 'iteration'

    def __call__(self, trainer):
        it = trainer.updater.iteration
        if it == self._checked_at:
            return self.converged or it >= self.max_iter
        if self._previous is None and self.refresh.labels is not None:
            self._previous = self.refresh.keep_labels()
        if it > 0 and it % self.check_interval == 0 and self._previous is not None:
            labels = self.refresh.labels
            self.last_change = self.refresh.fraction_changed(labels, self._previous)
            self._previous = self.refresh.keep_labels(self._previous)
            self._checked_at = it
            if self.last_change < self.tol:
                self.converged = True
        return self.converged or it >= self.max_iter

    def serialize(self, serializer):
        self._checked_at = serializer('checked_at', self._checked_at)
        self.converged = bool(serializer('converged', self.converged))
        last = serializer('last_change',
                          numpy.nan if self.last_change is None else self.last_change)
        self.last_change = None if numpy.isnan(last) else float(last)
        if self._previous is None:
            self._previous = self.refresh._new_labels('previous')
        serializer('previous', self._previous)


class ReportConvergence(extension.Extension):

    """Reports ``dec/stop_change``: the quantity the stop trigger compares with ``tol``.

    That is the fraction of labels changed since the previous convergence check.
    ``dec/label_change`` (from :class:`RefreshTargetDistribution`) counts changes since the
    previous refresh of ``P``; the two differ when checks are rarer than refreshes (the
    ``article`` preset refreshes every step and checks every 5). Register it with the
    trigger's ``check_interval``.
    """

    priority = extension.PRIORITY_WRITER  # after the refresh, before LogReport

    def __init__(self, stop):
        self.stop = stop

    def __call__(self, trainer):
        self.stop(trainer)  # the check of this iteration; the stop trigger reuses it
        if self.stop._checked_at == trainer.updater.iteration \
                and self.stop.last_change is not None:
            chainer.report({'dec/stop_change': self.stop.last_change})
