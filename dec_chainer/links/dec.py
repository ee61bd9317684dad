"""The DEC model: the encoder of a pretrained autoencoder plus K trainable centroids."""

import numpy

import chainer
from chainer import backend

from dec_chainer.functions import cluster_frequencies
from dec_chainer.functions import dec_kl_divergence
from dec_chainer.functions import soft_assignment
from dec_chainer.functions import target_distribution


def iterate_batches(X, batchsize, device):
    """Rows of ``X``, ``batchsize`` at a time, on ``device``, in test mode without a graph."""
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for start in range(0, len(X), batchsize):
            yield device.send(numpy.asarray(X[start:start + batchsize]))


def soft_assignment_batches(encode, X, centroids, alpha=1.0, kernel='squared',
                            batchsize=2048, device=None):
    """``q`` of the rows of ``X``, ``batchsize`` rows at a time (arrays on ``device``)."""
    device = chainer.get_device(device if device is not None else '@numpy')
    mu = centroids.array if hasattr(centroids, 'array') else centroids
    for x in iterate_batches(X, batchsize, device):
        yield soft_assignment(encode(x), mu, alpha, kernel).array


def soft_assignment_in_batches(encode, X, centroids, alpha=1.0, kernel='squared',
                               batchsize=2048, device=None):
    """``q`` of all rows of ``X``, encoding ``batchsize`` rows at a time.

    Memory beyond the (n, K) result is that of one batch through ``encode``: the embedding
    of all points is never held, so a million points fit easily.

    Args:
        encode (callable): maps a batch (array) to embeddings (Variable or array).
        X (array): the data set (NumPy; rows are sent to ``device`` batch by batch).
        centroids (array): (K, d) on ``device``.
        device: a Chainer device (default: CPU).

    Returns:
        array: ``q`` of shape (n, K) on ``device``.
    """
    device = chainer.get_device(device if device is not None else '@numpy')
    return device.xp.concatenate(list(soft_assignment_batches(
        encode, X, centroids, alpha, kernel, batchsize, device)))


def target_distribution_in_batches(encode, X, centroids, alpha=1.0, kernel='squared',
                                   batchsize=2048, device=None, share_frequencies=None):
    """``(p, q)`` over the whole data set (``f_j`` sums over all rows), in batches.

    ``share_frequencies``: a function from this data's ``f_j`` to those of the whole data
    set when ``X`` is one part of it (data-parallel DEC: an all-reduce over the processes).
    """
    q = soft_assignment_in_batches(encode, X, centroids, alpha, kernel, batchsize, device)
    if share_frequencies is None:
        return target_distribution(q), q
    return target_distribution(q, share_frequencies(cluster_frequencies(q))), q


class DeepEmbeddedClustering(chainer.Chain):

    """Encoder ``f_theta`` (a :class:`StackedDenoisingAutoEncoder`'s) and centroids ``mu``.

    Called on a minibatch ``x`` with its rows ``p`` of the target distribution it returns
    (and reports) DEC's loss ``KL(P || Q)``. Only the encoder half of ``autoencoder`` gets
    gradients; the decoders are kept so the model stays one file.

    Args:
        autoencoder: a pretrained :class:`StackedDenoisingAutoEncoder`.
        centroids (array): initial centroids, shape (K, embedding size).
        alpha (float), kernel (str): see :func:`dec_chainer.functions.soft_assignment`.
        reduce (str): ``'mean'`` or ``'sum'`` of the loss over a minibatch.

        input_scale (float): the factor every input is multiplied by before the encoder
            (the one the autoencoder was pretrained with: ``DECConfig.rescale``); the model
            maps raw rows to clusters.

    ``loss_weight`` (1 unless a data-parallel DEC phase sets it) multiplies the loss: one
    process of several weights its share of a global batch with it.
    """

    loss_weight = 1.0

    def __init__(self, autoencoder, centroids, alpha=1.0, kernel='squared', reduce='mean',
                 input_scale=1.0):
        super().__init__()
        centroids = numpy.asarray(centroids, dtype=numpy.float32)
        if centroids.ndim != 2 or centroids.shape[1] != autoencoder.embedding_size:
            raise ValueError('centroids must have shape (K, {}); got {}'.format(
                autoencoder.embedding_size, centroids.shape))
        self.alpha = float(alpha)
        self.kernel = kernel
        self.reduce = reduce
        self.input_scale = float(input_scale)
        if not (self.input_scale > 0 and numpy.isfinite(self.input_scale)):
            raise ValueError('input_scale must be a positive finite number; got {}'.format(
                input_scale))
        with self.init_scope():
            self.autoencoder = autoencoder
            self.centroids = chainer.Parameter(centroids)

    @property
    def n_clusters(self):
        return self.centroids.shape[0]

    def embed(self, x):
        if self.input_scale != 1.0:
            x = x * self.input_scale
        return self.autoencoder.encode(x)

    def forward(self, x, p):
        loss = dec_kl_divergence(self.embed(x), self.centroids, p, self.alpha, self.kernel,
                                 self.reduce)
        if self.loss_weight != 1.0:
            loss = loss * self.loss_weight
        chainer.report({'loss': loss}, self)
        return loss

    # -- whole data sets, in batches, without a graph -------------------------------------

    def embed_dataset(self, X, batchsize=1024):
        """Embeddings of all rows of ``X`` (on the model's device)."""
        return self.device.xp.concatenate(
            [self.embed(x).array for x in iterate_batches(X, batchsize, self.device)])

    def soft_assignment_dataset(self, X, batchsize=1024):
        """``q`` for all rows of ``X``; memory O(batchsize x width + n x K)."""
        return soft_assignment_in_batches(self.embed, X, self.centroids, self.alpha,
                                          self.kernel, batchsize, self.device)

    def soft_assignment_batches(self, X, batchsize=1024):
        """``q`` of the rows of ``X``, a batch at a time (on the model's device)."""
        return soft_assignment_batches(self.embed, X, self.centroids, self.alpha,
                                       self.kernel, batchsize, self.device)

    def target_distribution_dataset(self, X, batchsize=1024, share_frequencies=None):
        """``(p, q)`` over all rows of ``X``: ``f_j`` sums over the whole data set (see
        :func:`target_distribution_in_batches` for ``share_frequencies``)."""
        return target_distribution_in_batches(self.embed, X, self.centroids, self.alpha,
                                              self.kernel, batchsize, self.device,
                                              share_frequencies)

    def predict(self, X, batchsize=1024):
        """Hard cluster labels (argmax of ``q``) as a NumPy int64 array (memory: the labels
        and one batch)."""
        cpu = backend.CpuDevice()
        labels, start = numpy.empty(len(X), dtype=numpy.int64), 0
        for q in self.soft_assignment_batches(X, batchsize):
            labels[start:start + len(q)] = cpu.send(q.argmax(axis=1))
            start += len(q)
        return labels
