"""The DEC model: the encoder of a pretrained autoencoder plus K trainable centroids."""

import numpy

import chainer

from dec_chainer.functions import dec_kl_divergence
from dec_chainer.functions import soft_assignment


def iterate_batches(X, batchsize, device):
    """Rows of ``X``, ``batchsize`` at a time, on ``device``, in test mode without a graph:
    every pass over a data set goes through here."""
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        for start in range(0, len(X), batchsize):
            yield device.send(numpy.asarray(X[start:start + batchsize]))


def map_batches(fn, X, batchsize, device, out=None, rows=None, then=None):
    """``fn`` (e.g. a link's method) over the rows of ``X`` (:func:`iterate_batches`),
    gathered as one NumPy array (into ``out``, e.g. a memory-mapped file, when given).

    ``rows`` (indices): over those rows only, read a batch at a time. ``then`` (a function
    of a batch's NumPy result, e.g. the nearest centroid of each code) is applied to each
    batch before it is gathered. Memory beyond the result is one batch through ``fn``.
    """
    cpu = chainer.backend.CpuDevice()

    def batch(x):
        y = fn(x)
        y = cpu.send(getattr(y, 'array', y))
        return y if then is None else then(y)

    if rows is not None:
        parts = [batch(x) for start in range(0, len(rows), batchsize)
                 for x in iterate_batches(X[rows[start:start + batchsize]], batchsize, device)]
        if not parts:  # none of these rows here: (0, width)
            parts = [batch(x)[:0] for x in iterate_batches(X[:1], 1, device)]
        return numpy.concatenate(parts)
    if out is None:
        return numpy.concatenate([batch(x) for x in iterate_batches(X, batchsize, device)])
    start = 0
    for x in iterate_batches(X, batchsize, device):
        y = batch(x)
        out[start:start + len(y)] = y
        start += len(y)
    return out


def soft_assignment_batches(encode, X, centroids, alpha=1.0, kernel='squared',
                            batchsize=2048, device=None):
    """``q`` of the rows of ``X``, ``batchsize`` rows at a time (arrays on ``device``):
    give it to :func:`~dec_chainer.functions.target_distribution_batches` for ``P``.

    Args:
        encode (callable): maps a batch (array) to embeddings (Variable or array).
        centroids (array): (K, d) on ``device`` (default: the CPU).
    """
    device = chainer.get_device(device if device is not None else '@numpy')
    mu = getattr(centroids, 'array', centroids)
    for x in iterate_batches(X, batchsize, device):
        yield soft_assignment(encode(x), mu, alpha, kernel).array


class DeepEmbeddedClustering(chainer.Chain):

    """Encoder ``f_theta`` (a :class:`StackedDenoisingAutoEncoder`'s) and centroids ``mu``.

    Called on a minibatch ``x`` with its rows ``p`` of the target distribution it returns
    (and reports) DEC's loss ``KL(P || Q)``.

    Args:
        autoencoder: a pretrained :class:`StackedDenoisingAutoEncoder`.
        centroids (array): initial centroids, shape (K, embedding size).
        alpha (float), kernel (str): see :func:`dec_chainer.functions.soft_assignment`.
        reduce (str): ``'mean'`` or ``'sum'`` of the loss over a minibatch.

        input_scale (float): the factor every input is multiplied by before the encoder
            (the one the autoencoder was pretrained with: ``DECConfig.rescale``); the model
            maps raw rows to clusters.
        freeze_encoder (bool): no backpropagation into the encoder: the loss sees the
            embedding as a constant, so training moves the centroids only ("DEC w/o
            backprop" in the paper).

    The decoders play no part in DEC's loss (they get no gradient and stay as pretrained);
    the model keeps them so that it stays one file with its autoencoder.
    """

    def __init__(self, autoencoder, centroids, alpha=1.0, kernel='squared', reduce='mean',
                 input_scale=1.0, freeze_encoder=False):
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
        self.freeze_encoder = bool(freeze_encoder)

    @property
    def n_clusters(self):
        return self.centroids.shape[0]

    def embed(self, x):
        if self.input_scale != 1.0:
            x = x * self.input_scale
        return self.autoencoder.encode(x)

    def forward(self, x, p, weight=1.0):
        """DEC's loss ``KL(P || Q)`` of the minibatch ``x`` with its rows ``p`` of P, times
        ``weight`` (one process of several weights its share of a global batch with it)."""
        if self.freeze_encoder:
            with chainer.no_backprop_mode():
                z = self.embed(x).array
        else:
            z = self.embed(x)
        loss = dec_kl_divergence(z, self.centroids, p, self.alpha, self.kernel, self.reduce)
        if weight != 1.0:
            loss = loss * weight
        chainer.report({'loss': loss}, self)
        return loss

    def assign(self, x):
        """``q`` of a batch ``x`` (a Variable)."""
        return soft_assignment(self.embed(x), self.centroids, self.alpha, self.kernel)

    # -- whole data sets, a batch at a time (map_batches), without a graph ----------------

    def soft_assignment_batches(self, X, batchsize=1024):
        """``q`` of the rows of ``X``, a batch at a time (on the model's device)."""
        return soft_assignment_batches(self.embed, X, self.centroids, self.alpha,
                                       self.kernel, batchsize, self.device)

    def loss_on(self, X, batchsize=1024):
        """DEC's loss ``KL(P || Q)``, the mean over the rows of ``X`` with ``P`` made from
        their own ``Q`` (two passes over ``X``; memory: one batch): the paper's L_train or
        L_validation."""
        f = sum(q.sum(axis=0, dtype=numpy.float64) for q in self.soft_assignment_batches(
            X, batchsize))
        total = 0.0
        for q in self.soft_assignment_batches(X, batchsize):
            xp = chainer.backend.get_array_module(q)
            q = xp.maximum(q.astype(numpy.float64), 1e-300)
            w = q * q / f
            p = xp.maximum(w / w.sum(axis=1, keepdims=True), 1e-300)
            total += float((p * (xp.log(p) - xp.log(q))).sum())
        return total / len(X)

    def predict(self, X, batchsize=1024):
        """Hard cluster labels (argmax of ``q``) as a NumPy int64 array (memory: the labels
        and one batch)."""
        return map_batches(self.assign, X, batchsize, self.device,
                           out=numpy.empty(len(X), dtype=numpy.int64),
                           then=lambda q: q.argmax(axis=1))
