"""The DEC phase's target: the refresh of P (and of the hard labels), and the metrics of
the labels."""

import numpy

import chainer
from chainer.training import extension

from dec_chainer import _files, distributed
from dec_chainer.evaluations import eval_clustering
from dec_chainer.functions import target_distribution_batches


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
        scratch (str): for data larger than memory, a directory where the labels are
            memory-mapped files (give a memory-mapped ``p`` too). None: arrays in memory.

    ``P`` is computed by :func:`~dec_chainer.functions.target_distribution_batches` in
    every case (in memory or on disk, one process or several): the same data gives the
    same ``P`` and labels, bit for bit.
    """

    priority = extension.PRIORITY_WRITER + 10  # before metrics, triggers and LogReport

    #: rows per block of the label comparisons
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
            self.labels = self.new_labels()
            self.labels[...] = initial_labels
        self.label_change = None
        self.n_refresh = 0

    def new_labels(self, name=None):
        """An array for one label per row (a scratch file ``name`` on disk); by default the
        next of two alternating ones (the current labels and the next ones)."""
        if name is None:  # two alternating files: the current labels and the next ones
            self._buffer = 1 - self._buffer
            name = 'labels{}'.format(self._buffer)
        return _files.new_array(self.scratch, name, (len(self.X),), numpy.int64)

    def keep_labels(self, into=None):
        """A copy of the current labels (into ``into``, or a new array: in memory, or the
        scratch file ``previous``)."""
        if into is None:
            into = self.new_labels('previous')
        into[...] = self.labels
        return into

    def initialize(self, trainer):
        if self.n_refresh == 0:  # a fresh start; a resumed run restored P from its snapshot
            self.refresh()

    def refresh(self):
        labels = self.new_labels()
        target_distribution_batches(
            self.model.soft_assignment_batches(self.X, self.batchsize), self.p, labels,
            None if self.comm is None else
            (lambda f: distributed.allreduce_sum(self.comm, f)), self.model.device)
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
            self.labels = self.new_labels()
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
