"""Every training setting of a DEC run, and the named presets ``paper``, ``article``, ``quick``.

All values of a preset live here, in one readable place; any of them can be overridden:
``get_config('quick', dec_max_iter=2000)``.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy
from dec_chainer.errors import UserError


@dataclass(frozen=True)
class DECConfig:
    """The settings of a DEC run (pretraining, k-means initialisation, DEC phase).

    Iteration counts are minibatch updates. ``0`` iterations skips a pretraining stage.
    """

    # -- data --------------------------------------------------------------------------
    #: pixel scaling of the image data sets: 'unit' (/255), 'caffe' (x 0.02), 'raw'
    scale: str = 'unit'
    #: pretrain on the first N points only (MNIST: 60000 = the training split); None: all
    pretrain_samples: object = None
    #: cluster (and evaluate) the first N points only; None: all
    cluster_samples: object = None
    #: what the run does with the scale of the data it is given: 'max_abs' learns one
    #: factor at fit, the power of two that brings max |x| into (0.5, 1], and applies it to
    #: every input of the model (training, predictions; kept with the model), so data in
    #: [0, 1], standardised data and raw values up to 1e3 and more all train at the
    #: learning rates below; a power of two is exact in floating point, and data already
    #: in [-1, 1] with max |x| > 0.5 is left as it is, bit for bit. 'none': the data as
    #: given (the published protocols).
    rescale: str = 'none'

    # -- network -----------------------------------------------------------------------
    #: hidden layer sizes after the input; the last is the embedding
    hidden_dims: tuple = (500, 500, 2000, 10)
    #: weight initialisation: 'normal' N(0, init_scale^2) or 'uniform' U(+-sqrt(1/fan_in))
    init: str = 'normal'
    init_scale: float = 0.01

    # -- autoencoder pretraining (both stages) -----------------------------------------
    batchsize: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    #: lr is multiplied by lr_gamma every lr_step iterations (both stages and DEC)
    lr_step: int = 20000
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    #: momentum ramps linearly from 0 over this many iterations (0: no ramp)
    momentum_ramp: int = 1000
    #: bias learning rate = bias_lr_mult x lr (Caffe's lr_mult: 2 in the reference code)
    bias_lr_mult: float = 2.0
    #: 'half_mse' (reference code) or 'mse' (article, DEC-keras)
    ae_loss: str = 'half_mse'
    #: greedy layer-wise denoising pretraining, iterations per pair
    layerwise_iters: int = 50000
    dropout: float = 0.2
    #: 'paper' (not on the raw input), 'article' (everywhere) or 'none'
    dropout_placement: str = 'paper'
    #: end-to-end fine-tuning of the whole autoencoder, no dropout
    finetune_iters: int = 100000
    #: a pretraining stage whose loss diverges starts again from its initial weights with
    #: lr / 10, at most this many times (one process only; the stage's report gives the lr
    #: it ended with). 0: stop with a DivergenceError (the published protocols)
    lr_backoff: int = 0

    # -- centroid initialisation -------------------------------------------------------
    kmeans_n_init: int = 20
    #: k-means on at most this many of the clustered rows (a seeded random subset; every
    #: row then gets its nearest centroid): bounds k-means' memory and time on data sets
    #: of millions of rows. None: all rows (the paper)
    kmeans_samples: object = None
    #: the seed of k-means' start and of the DEC phase's shuffling; None: the run's seed.
    #: Another value clusters the same pretrained autoencoder from another start
    cluster_seed: object = None

    # -- DEC phase ---------------------------------------------------------------------
    alpha: float = 1.0
    #: 'squared' (paper) or 'distance' (article) Student's t kernel
    kernel: str = 'squared'
    dec_lr: float = 0.01
    dec_momentum: float = 0.9
    #: minibatch size; None: full batch (every step sees all points)
    dec_batchsize: object = 256
    #: recompute P from all points every this many iterations
    update_interval: int = 160
    #: compare hard labels every this many iterations (None: update_interval)
    check_interval: object = None
    #: stop when fewer than this fraction of labels changed between checks
    tol: float = 0.001
    dec_max_iter: int = 100000
    #: 'mean' or 'sum' of the KL over a minibatch
    dec_loss_reduce: str = 'mean'
    #: what the DEC phase trains: 'train' the encoder and the centroids (DEC), or keep the
    #: encoder 'frozen' and move only the centroids ("DEC w/o backprop", the paper's
    #: Table 2)
    dec_encoder: str = 'train'

    # -- bookkeeping -------------------------------------------------------------------
    #: iterations between snapshots (a killed run resumes from the last one)
    snapshot_interval: int = 2000
    #: the same for the DEC phase (None: snapshot_interval)
    dec_snapshot_interval: object = None
    #: and a snapshot at least this often (seconds), so a kill loses minutes at most
    snapshot_seconds: float = 120.0
    #: batch size of the whole-data-set passes (embedding, P, predictions)
    eval_batchsize: int = 2048

    #: settings that change how a run is kept, not what it computes
    BOOKKEEPING = ('snapshot_interval', 'dec_snapshot_interval', 'snapshot_seconds',
                   'eval_batchsize')

    def replace(self, **overrides):
        """A copy with some values changed; unknown names raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise UserError('unknown setting(s) {}; known: {}'.format(
                ', '.join(unknown), ', '.join(sorted(names))))
        return dataclasses.replace(self, **overrides)

    def n_pretrain(self, n):
        """How many of ``n`` rows the autoencoder learns from (the first ones)."""
        return min(self.pretrain_samples or n, n)

    def n_cluster(self, n):
        """How many of ``n`` rows are clustered and evaluated (the first ones)."""
        return min(self.cluster_samples or n, n)

    def to_dict(self):
        d = dataclasses.asdict(self)
        d['hidden_dims'] = list(self.hidden_dims)
        return d

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        if 'hidden_dims' in d:
            d['hidden_dims'] = tuple(d['hidden_dims'])
        return cls().replace(**d)

    #: settings that are an integer or None
    OPTIONAL_INTS = ('pretrain_samples', 'cluster_samples', 'dec_batchsize', 'check_interval',
                     'dec_snapshot_interval', 'kmeans_samples', 'cluster_seed')

    def _check_types(self):
        """Every value of the type its setting takes: nothing is coerced (7.5 iterations,
        ``true`` as a learning rate, ``hidden_dims=10`` are refused, not rounded or read)."""
        def is_int(v):
            return isinstance(v, (int, numpy.integer)) and not isinstance(v, bool)

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in self.OPTIONAL_INTS:
                if v is not None and not is_int(v):
                    raise UserError('{} must be an integer or None (on the command line: '
                                     '{}=null); got {!r}'.format(f.name, f.name, v))
            elif f.type is int:
                if not is_int(v):
                    raise UserError('{} must be an integer; got {!r}'.format(f.name, v))
            elif f.type is float:
                if not (is_int(v) or isinstance(v, (float, numpy.floating))) \
                        or not math.isfinite(v):
                    raise UserError('{} must be a finite number; got {!r}'.format(f.name, v))
            elif f.type is str:
                if not isinstance(v, str):
                    raise UserError('{} must be a string; got {!r}'.format(f.name, v))
            elif f.name == 'hidden_dims':
                if not isinstance(v, (tuple, list)) or not v or not all(map(is_int, v)):
                    raise UserError('hidden_dims must be a list of integer layer sizes, '
                                     'e.g. [500,500,2000,10]; got {!r}'.format(v))

    def validate(self):
        """Raise ``ValueError`` for values no run can use (or of the wrong type)."""
        self._check_types()
        from dec_chainer.datasets import SCALES
        from dec_chainer.functions._student_t import KERNELS, check_kernel_args
        from dec_chainer.links.autoencoder import AE_LOSSES, DROPOUT_PLACEMENTS, INITS
        from dec_chainer.validation import RESCALES
        choices = {'scale': SCALES, 'rescale': RESCALES, 'init': INITS, 'ae_loss': AE_LOSSES,
                   'dropout_placement': DROPOUT_PLACEMENTS, 'kernel': KERNELS,
                   'dec_loss_reduce': ('mean', 'sum'), 'dec_encoder': ('train', 'frozen')}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise UserError('{} must be one of {}; got {!r}'.format(
                    name, allowed, getattr(self, name)))
        check_kernel_args(self.alpha, self.kernel)
        positive = ('batchsize', 'lr_step', 'update_interval', 'eval_batchsize',
                    'snapshot_interval', 'kmeans_n_init', 'dec_max_iter')
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise UserError('{} must be at least 1; got {}'.format(
                    name, getattr(self, name)))
        for name in ('layerwise_iters', 'finetune_iters', 'momentum_ramp', 'lr_backoff',
                     'cluster_seed'):
            if (getattr(self, name) or 0) < 0:
                raise UserError('{} must be >= 0; got {}'.format(name, getattr(self, name)))
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            raise UserError('hidden_dims must be positive sizes; got {}'.format(
                self.hidden_dims))
        check = self.check_interval or self.update_interval
        if check % self.update_interval:
            raise UserError('check_interval ({}) must be a multiple of update_interval '
                             '({})'.format(check, self.update_interval))
        if not 0 <= self.tol < 1:
            raise UserError('tol must be in [0, 1); got {}'.format(self.tol))
        if not 0 <= self.dropout < 1:
            raise UserError('dropout must be in [0, 1); got {}'.format(self.dropout))
        for name in ('lr', 'dec_lr', 'snapshot_seconds', 'init_scale'):
            if not getattr(self, name) > 0:
                raise UserError('{} must be positive; got {}'.format(name, getattr(self, name)))
        for name in ('momentum', 'dec_momentum'):
            if not 0 <= getattr(self, name) < 1:
                raise UserError('{} must be in [0, 1); got {}'.format(
                    name, getattr(self, name)))
        if not 0 < self.lr_gamma <= 1:
            raise UserError('lr_gamma (the factor lr is multiplied by every lr_step '
                             'iterations) must be in (0, 1]; got {}'.format(self.lr_gamma))
        for name in ('weight_decay', 'bias_lr_mult'):
            if not getattr(self, name) >= 0:
                raise UserError('{} must be >= 0; got {}'.format(name, getattr(self, name)))
        for name, meaning in (('pretrain_samples', 'all rows'), ('cluster_samples', 'all rows'),
                              ('kmeans_samples', 'all rows'), ('dec_batchsize', 'full batch'),
                              ('dec_snapshot_interval', 'snapshot_interval'),
                              ('check_interval', 'update_interval')):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise UserError('{} must be at least 1 or None ({}); got {}'.format(
                    name, meaning, value))
        return self


#: The faithful protocol of the paper and its reference Caffe code (piiswrong/dec): pixels
#: x 0.02, the autoencoder pretrained on the first 60,000 points (MNIST's training split),
#: all points clustered. (For data sets of your own, ``pretrain_samples=None``.)
PAPER = DECConfig(scale='caffe', pretrain_samples=60000)

#: The original Chainer repository of the article (ymym3412/DeepEmbeddedClustering):
#: distance kernel, full-batch DEC steps with P recomputed every step and labels checked
#: every 5 steps (at most 30), dropout on the raw pixels too, F.mean_squared_error, pixels in
#: [0, 1], plain MomentumSGD (no momentum ramp, no bias lr x2), 60,000 training images only.
ARTICLE = PAPER.replace(
    scale='unit', pretrain_samples=60000, cluster_samples=60000,
    ae_loss='mse', dropout_placement='article', momentum_ramp=0, bias_lr_mult=1.0,
    kernel='distance', dec_batchsize=None, update_interval=1, check_interval=5,
    dec_max_iter=30, dec_snapshot_interval=5,
)

#: A short schedule for 2 CPU cores (the README's main job on MNIST-70k): end-to-end
#: autoencoder training only (lr 1.0, uniform init, pixels in [0, 1], ~88 epochs), then DEC
#: with P refreshed every 140 iterations, capped at 3,500 iterations.
QUICK = PAPER.replace(
    scale='unit', pretrain_samples=None, init='uniform', lr=1.0, momentum_ramp=0,
    bias_lr_mult=1.0, ae_loss='mse', layerwise_iters=0, finetune_iters=24000, update_interval=140, dec_max_iter=3500,
    rescale='max_abs', lr_backoff=3,
)

PRESETS = {'paper': PAPER, 'article': ARTICLE, 'quick': QUICK}

#: The article's departures from the paper, grouped into the choices one would switch
#: together (name -> settings). Every setting in which ARTICLE differs from PAPER (apart from
#: bookkeeping) belongs to exactly one choice; tests check this. The DEC schedule takes its
#: snapshot interval along: the article's (every 5 of its 30 full-batch steps) would
#: snapshot a minibatch schedule hundreds of times.
ARTICLE_CHOICES = {
    'pixels': ('scale',),
    'ae_loss': ('ae_loss',),
    'dropout': ('dropout_placement',),
    'optimizer': ('momentum_ramp', 'bias_lr_mult'),
    'kernel': ('kernel',),
    'dec_schedule': ('dec_batchsize', 'update_interval', 'check_interval', 'dec_max_iter',
                     'dec_snapshot_interval'),
    'cluster_points': ('cluster_samples',),
}


def article_ablation(article=ARTICLE, paper=PAPER):
    """The one-choice-at-a-time ablation between two configurations.

    Returns ``[(name, overrides), ...]``: first ``('article', {})``, then for each of
    :data:`ARTICLE_CHOICES` where the two differ the overrides that switch ``article`` to
    ``paper``'s values of that choice only. Apply them with ``article.replace(**overrides)``.
    """
    variants = [('article', {})]
    for name, keys in ARTICLE_CHOICES.items():
        switched = {k: getattr(paper, k) for k in keys if getattr(paper, k) != getattr(article, k)}
        if switched:
            variants.append((name, switched))
    return variants


def get_config(preset='paper', **overrides):
    """The named preset with ``overrides`` applied, validated."""
    if isinstance(preset, DECConfig):
        base = preset
    elif preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise UserError('unknown preset {!r}; choose one of {}'.format(
            preset, ', '.join(PRESETS)))
    return base.replace(**overrides).validate()


def as_overrides(config):
    """``(preset, overrides)`` with ``get_config(preset, **overrides) == config``: the named
    preset ``config`` differs least from, and the settings in which it differs."""
    def diff(name):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if getattr(config, f.name) != getattr(PRESETS[name], f.name)}

    name = min(PRESETS, key=lambda name: len(diff(name)))
    return name, diff(name)
