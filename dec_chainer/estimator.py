"""DEC as a scikit-learn estimator: ``fit`` runs :func:`dec_chainer.runs.fit_dec` once;
persistence in one device-free ``.npz`` file."""

import json
import os
import warnings
import zipfile

import numpy
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

import chainer
from chainer import serializers

from dec_chainer import _files
from dec_chainer.links import DeepEmbeddedClustering, map_batches
from dec_chainer.presets import DECConfig, as_overrides, get_config
from dec_chainer.runs import fit_dec
from dec_chainer.training import RunContext, build_autoencoder
from dec_chainer.validation import check_array, check_labels, check_n_clusters, value_range
from dec_chainer.errors import MissingFileError, UserError

_META_KEY = '__dec_chainer_meta__'
_FORMAT = 'dec_chainer.DEC/1'


class DEC(ClusterMixin, TransformerMixin, BaseEstimator):

    """Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016).

    Follows scikit-learn's conventions: ``__init__`` only stores the parameters, ``fit``
    learns and returns ``self``, fitted attributes end in ``_``.

    Args:
        n_clusters (int): number of clusters (>= 1; one puts every point in it).
        dims (sequence of int): hidden layer sizes after the input, the last being the
            embedding; default: the preset's (500, 500, 2000, 10).
        preset (str): ``'quick'`` (default: end-to-end pretraining only, 24,000 iterations;
            it scales the data by the power of
            two that brings max |x| into (0.5, 1], kept in the model as ``input_scale_``,
            and backs off the learning rate of a diverging stage: see
            :class:`~dec_chainer.presets.DECConfig` ``rescale`` and ``lr_backoff``),
            ``'paper'`` (the full schedule: hours on a CPU) or ``'article'`` (see
            :mod:`dec_chainer.presets`).
        alpha (float): degrees of freedom of the Student's t kernel.
        update_interval (int): iterations between refreshes of the target distribution;
            default: the preset's.
        tol (float): stop when fewer than this fraction of labels changed between checks;
            default: the preset's.
        config (dict): any other preset values to override, e.g.
            ``{'finetune_iters': 5000, 'dec_max_iter': 2000}``. Unlike the command line,
            the estimator pretrains on and clusters all rows of ``X`` unless ``config`` sets
            ``pretrain_samples``/``cluster_samples``.
        device: Chainer device spec: -1 or ``'@numpy'`` (CPU), 0 or ``'@cupy:0'`` (GPU).
        random_state (int or None): the one seed of the fit (None: a fresh random seed).
        verbose (bool): progress bars and status lines.
        run_dir (str or None): a run directory for snapshots, logs and each phase's result
            (see :mod:`dec_chainer.runs`): a fit cut short resumes from it when called again
            with the same settings and data, and a finished one loads instead of
            retraining. None: a temporary directory, removed after the fit.

    Attributes:
        labels_ (ndarray): cluster of each training point.
        cluster_centers_ (ndarray): (n_clusters, embedding size) centroids in the embedding.
        n_iter_ (int): iterations of the DEC phase.
        n_features_in_ (int): features seen by ``fit``.
        converged_ (bool): whether DEC stopped on ``tol`` (rather than its iteration cap).
        report_ (dict): the run's report (:func:`dec_chainer.runs.fit_dec`): wall time per
            phase, metrics when ``fit`` got labels, the configuration, and the machine,
            versions and BLAS kernels the fit ran with (what a seeded fit repeats on).
        seed_ (int): the seed used.
        input_scale_ (float): the factor every input is multiplied by (``config``'s
            ``rescale``; 1 for data left as given).
        input_range_ (tuple): (min, max) of the training data (from the run's report:
            None on the ranks other than 0 of a data-parallel fit); ``predict`` warns
            (:class:`InputRangeWarning`) on data far outside it.
    """

    def __init__(self, n_clusters=10, dims=None, preset='quick', alpha=1.0,
                 update_interval=None, tol=None, config=None, device=-1, random_state=None,
                 verbose=False, run_dir=None):
        self.n_clusters = n_clusters
        self.dims = dims
        self.preset = preset
        self.alpha = alpha
        self.update_interval = update_interval
        self.tol = tol
        self.config = config
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.run_dir = run_dir

    # -- configuration -------------------------------------------------------------------

    def _build_config(self):
        overrides = {'pretrain_samples': None, 'cluster_samples': None}
        overrides.update(self.config or {})
        if self.dims is not None:
            overrides['hidden_dims'] = tuple(int(d) for d in self.dims)
        overrides['alpha'] = self.alpha
        if self.update_interval is not None:
            overrides['update_interval'] = self.update_interval
        if self.tol is not None:
            overrides['tol'] = self.tol
        return get_config(self.preset, **overrides)

    def _seed(self):
        if self.random_state is None:
            return int(numpy.random.SeedSequence().generate_state(1)[0])
        if isinstance(self.random_state, numpy.random.RandomState):
            return int(self.random_state.randint(0, 2 ** 31 - 1))
        return int(self.random_state)

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y=None, context=None, pretrained=None):
        """Learn the embedding and the clusters of ``X``; ``y`` (optional) only for metrics.

        ``context`` and ``pretrained`` go to :func:`dec_chainer.runs.fit_dec` (default
        context: ``device``, and the log and progress bars when ``verbose``). Under MPI
        (``context.comm``) every rank ends with the fitted model; ``labels_`` and
        ``report_`` are rank 0's (None on the other ranks).
        """
        config = self._build_config()
        X = self._validate(X, reset=True)
        n_clusters = check_n_clusters(self.n_clusters, X.shape[0])
        if y is not None:  # only for the metrics in report_: any label type will do
            type_of_target(y, input_name='y', raise_unknown=True)
            y = numpy.asarray(y)
            if y.dtype.kind not in 'iu':
                y = numpy.unique(y, return_inverse=True)[1].reshape(-1)
            y = check_labels(y, X.shape[0], name='y')
        seed = self._seed()
        if context is None:
            context = RunContext(self.device, log=print if self.verbose else (lambda *a: None),
                                 progress=bool(self.verbose))
        model, labels, report = fit_dec(X, y, n_clusters, config, self.run_dir, seed, context,
                                        pretrained=pretrained)
        self._set_fitted(model, config, X.shape[1], seed,
                         None if report is None else report['input_range'])
        self.labels_ = labels
        self.report_ = report
        if report is None:  # a rank other than 0 of a data-parallel run
            return self
        self.n_iter_ = int(report['dec']['iterations'])
        self.converged_ = bool(report['dec']['converged'])
        if not self.converged_:
            last = report['dec'].get('last_change')
            warnings.warn(ConvergenceWarning(
                'DEC stopped at its iteration cap (dec_max_iter={}) before fewer than '
                'tol={} of the labels changed between checks (last check: {}); raise '
                'config["dec_max_iter"] or tol'.format(
                    config.dec_max_iter, config.tol,
                    'none' if last is None else '{:.4f}'.format(last))))
        return self

    @classmethod
    def from_config(cls, config, n_clusters, **params):
        """An estimator that fits with exactly ``config`` (a :class:`DECConfig`): its
        ``preset`` is the named preset nearest to it, ``config`` the settings that differ
        (and which rows to pretrain on and cluster, which the estimator otherwise sets to
        all). ``params``: the other constructor parameters."""
        preset, overrides = as_overrides(config)
        overrides.update(pretrain_samples=config.pretrain_samples,
                         cluster_samples=config.cluster_samples)
        overrides.pop('alpha', None)
        return cls(n_clusters=n_clusters, preset=preset, alpha=config.alpha,
                   config=overrides, **params)

    def _set_fitted(self, model, config, n_features, seed, input_range):
        self.model_ = model
        self.config_ = config.to_dict()
        self.n_features_in_ = int(n_features)
        self.seed_ = int(seed)
        self.input_scale_ = model.input_scale
        self.input_range_ = None if input_range is None else tuple(map(float, input_range))
        self.cluster_centers_ = chainer.backend.CpuDevice().send(model.centroids.array).copy()

    # -- using a fitted model ------------------------------------------------------------

    def _validate(self, X, reset):
        """scikit-learn's checks (sparse and complex input, no features, the number of
        features against ``n_features_in_``), then ours (NaN/inf, float32 range, with the
        messages the command line uses)."""
        X = validate_data(self, X, reset=reset, accept_sparse=False, ensure_all_finite=False,
                          dtype=[numpy.float64, numpy.float32])
        return check_array(X, name='X')

    def _check_fitted(self):
        check_is_fitted(self, 'model_')

    def _check_X(self, X):
        self._check_fitted()
        X = self._validate(X, reset=False)
        if self.input_range_ is not None:
            check_input_range(X, self.input_range_)
        return X

    def _map(self, fn, X):
        """``fn`` over the rows of ``X``, a batch at a time, on the CPU."""
        return map_batches(fn, X, int(self.config_.get('eval_batchsize', 2048)),
                           self.model_.device)

    def predict(self, X):
        """The cluster of each row of ``X`` (argmax of the soft assignment)."""
        return self.predict_proba(X).argmax(axis=1)

    def predict_proba(self, X):
        """Soft assignments ``q`` (n, n_clusters): Student's t kernel, rows sum to 1.

        Finite for points however far from the centroids (computed in float64 where the
        distances overflow float32); raises ``ValueError`` if the embedding itself overflows.
        """
        X = self._check_X(X)
        return _finite(self._map(self.model_.assign, X), X)

    def transform(self, X):
        """The embedding of each row of ``X``, shape (n, embedding size)."""
        X = self._check_X(X)
        return _finite(self._map(self.model_.embed, X), X)

    # -- persistence ---------------------------------------------------------------------

    def _meta(self):
        return {'format': _FORMAT, 'params': self.get_params(), 'config': self.config_,
                'n_features_in': self.n_features_in_, 'seed': self.seed_,
                'input_scale': self.input_scale_, 'input_range': self.input_range_,
                'n_iter': getattr(self, 'n_iter_', None),
                'converged': getattr(self, 'converged_', None)}

    def _weights(self):
        state = {}
        serializers.DictionarySerializer(state).save(self.model_)
        cpu = chainer.backend.CpuDevice()
        return {k: cpu.send(v) for k, v in state.items()}

    def save(self, path):
        """Write the fitted model to one ``.npz`` file: the weights and a JSON config.

        The file is enough to :meth:`load` and predict; the training data is not needed.
        """
        self._check_fitted()
        arrays = self._weights()
        arrays[_META_KEY] = numpy.array(json.dumps(self._meta(), default=str))
        arrays['labels_'] = numpy.asarray(self.labels_)
        _files.savez(os.fspath(path), **arrays)  # atomic: never a half-written model file
        return path

    @classmethod
    def load(cls, path, device=None):
        """Load a model written by :meth:`save` onto ``device`` (default: the CPU).

        Model files are device-free: a model trained on a GPU loads, predicts and plots on
        a CPU-only machine, and the reverse (``device=0``). The training device is kept
        only as a record (``report`` of the run); ``est.device`` is where it now lives.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise MissingFileError('model file not found: {}'.format(path))
        try:
            npz = _files.open_npz(path)
        except ValueError:
            raise UserError('{}: not a readable .npz model file (empty, truncated or not '
                             'written by DEC.save)'.format(path)) from None
        with npz:
            try:
                est = cls._from_npz(npz, path, device)
            except (ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as e:
                if str(e).startswith(path + ':'):
                    raise
                raise UserError('{}: not a readable dec_chainer.DEC model ({}: {})'.format(
                    path, type(e).__name__, e)) from None
        return est

    @classmethod
    def _from_npz(cls, npz, path, device):
        if _META_KEY not in npz.files:
            raise UserError('{}: not a dec_chainer.DEC model file (no {})'.format(
                path, _META_KEY))
        meta = json.loads(str(npz[_META_KEY]))
        if meta.get('format') != _FORMAT:
            raise UserError('{}: unknown model format {!r}'.format(path, meta.get('format')))
        params = dict(meta['params'], device=-1 if device is None else device)
        if params.get('dims') is not None:  # JSON keeps the tuple as a list
            params['dims'] = tuple(params['dims'])
        if isinstance(params.get('config'), dict) and 'hidden_dims' in params['config']:
            params['config'] = dict(params['config'],
                                    hidden_dims=tuple(params['config']['hidden_dims']))
        est = cls(**params)
        config = DECConfig.from_dict(meta['config'])
        scale = meta.get('input_scale', 1.0)  # models saved before the factor was kept: 1
        try:
            model = _restore_model(npz, meta['n_features_in'], config, est, scale)
        except ValueError as e:
            raise UserError('{}: {}'.format(path, e)) from None
        est._set_fitted(model, config, meta['n_features_in'], meta['seed'],
                        meta.get('input_range'))
        est.labels_ = npz['labels_']
        est.n_iter_ = meta.get('n_iter')
        est.converged_ = meta.get('converged')
        return est

    def __getstate__(self):
        state = self.__dict__.copy()
        if 'model_' in state:
            state['model_'] = self._weights()
        return state

    def __setstate__(self, state):
        weights = state.pop('model_', None)
        self.__dict__.update(state)
        if weights is not None:
            self.model_ = _restore_model(weights, self.n_features_in_,
                                         DECConfig.from_dict(self.config_), self,
                                         self.input_scale_)


def _restore_model(weights, n_features, config, est, input_scale):
    """The model of ``config`` with the saved ``weights`` (a mapping of arrays), on
    ``est.device``."""
    sdae = build_autoencoder(n_features, config)
    centroids = numpy.zeros((est.n_clusters, sdae.embedding_size), dtype=numpy.float32)
    model = DeepEmbeddedClustering(sdae, centroids, config.alpha, config.kernel,
                                   config.dec_loss_reduce, input_scale)
    try:
        serializers.NpzDeserializer(weights).load(model)
    except (KeyError, ValueError) as e:
        raise UserError('weights do not match the saved configuration ({})'.format(e)) \
            from None
    bad = [name for name, param in model.namedparams() if not numpy.isfinite(param.array).all()]
    if bad:
        raise UserError('the model holds non-finite weights (in {}): its training diverged; '
                         'train it again'.format(', '.join(bad)))
    model.to_device(chainer.get_device(est.device))
    return model


class InputRangeWarning(UserWarning):
    """Data given to a fitted model lies far outside the values it was fitted on."""


def check_input_range(X, fitted_range):
    """Warn (:class:`InputRangeWarning`) when ``X`` reaches further outside
    ``fitted_range`` (min, max of the training data) than that range is wide: e.g. raw
    0-16 pixels given to a model fitted on pixels / 16, whose predictions then mean
    nothing."""
    low, high = fitted_range
    width = max(high - low, numpy.finfo(numpy.float32).tiny)
    x_low, x_high = value_range(X)
    if x_low < low - width or x_high > high + width:
        warnings.warn(InputRangeWarning(
            'X holds values in [{:.4g}, {:.4g}], far outside the range the model was '
            'fitted on, [{:.4g}, {:.4g}]: scale X as the training data was scaled, or its '
            'clusters mean nothing'.format(x_low, x_high, low, high)), stacklevel=4)


def _finite(a, X):
    """``a``, or ``ValueError`` naming the scale of ``X`` if it is not finite."""
    if not numpy.isfinite(a).all():
        raise UserError('the embedding of X overflows (X holds values up to |x| = {:.3g}): '
                         'scale X as the data the model was fitted on'.format(
                             float(numpy.abs(X).max())))
    return a


def held_out_split(n, held_out, candidates, config=None, preset='quick'):
    """The rows :func:`choose_n_clusters` trains on and holds out of ``n``, and the
    settings that keep the held-out rows out of pretraining and clustering.

    Returns:
        tuple: ``(n_train, n_held_out, config)``, ``config`` the settings ``config``
        (a dict of overrides of ``preset``) with ``cluster_samples`` and
        ``pretrain_samples`` limited to the training rows.
    """
    n_val = int(round(held_out * n)) if 0 < held_out < 1 else int(held_out)
    n_train = n - n_val
    if not 0 < n_val < n or n_train < max(candidates):
        raise UserError('held_out={} leaves {} training and {} held-out rows of {}: both '
                        'must be non-empty, and at least the largest K ({}) rows to '
                        'train'.format(held_out, n_train, n_val, n, max(candidates)))
    config = dict(config or {})
    n_pre = config.get('pretrain_samples', get_config(preset).pretrain_samples)
    config.update(cluster_samples=n_train, pretrain_samples=min(n_pre or n_train, n_train))
    return n_train, n_val, config


def choose_n_clusters(X, candidates, held_out=0.1, y=None, run_dir=None, pretrained=None,
                      **params):
    """The number of clusters chosen without labels, the paper's way (its Figure 6).

    For each K in ``candidates`` a :class:`DEC` (``params``: its other parameters) is
    fitted on the first rows of ``X``, all but the last ``held_out`` (a fraction, or a
    number of rows; shuffle ``X`` first if its order means something). Its loss
    ``KL(P || Q)`` on those rows is L_train, on the held-out rows L_validation (``P`` of
    each set from its own ``Q``), and its generalizability ``G = L_train / L_validation``:
    highest while the clusters generalise, dropping where K starts to split real clusters.
    The choice is the K before the largest drop of G between consecutive candidates.

    The autoencoder is pretrained once, on the training rows (or taken from ``pretrained``,
    a run directory), and every K reuses it; ``run_dir`` keeps each K's run in
    ``run_dir/k<K>`` (None: a temporary directory). ``y``, if given, only adds each K's
    NMI and ACC over all rows (the held-out ones predicted).

    Returns:
        dict: ``rows`` (per K: ``n_clusters``, ``l_train``, ``l_validation``,
        ``generalizability``, with ``y`` also ``nmi``, ``acc``) and ``choice``.
    """
    import tempfile
    from dec_chainer.evaluations import eval_clustering
    X = check_array(X, name='X')
    candidates = sorted({int(k) for k in candidates})
    n_train, n_val, config = held_out_split(len(X), held_out, candidates,
                                            params.pop('config', None),
                                            params.get('preset', 'quick'))
    with tempfile.TemporaryDirectory() as tmp:
        root, rows = run_dir or tmp, []
        for k in candidates:
            est = DEC(n_clusters=k, run_dir=os.path.join(root, 'k{}'.format(k)),
                      config=config, **params)
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', ConvergenceWarning)
                est.fit(X, None if y is None else y, pretrained=pretrained)
            pretrained = pretrained or est.run_dir
            batch = int(est.config_['eval_batchsize'])
            row = {'n_clusters': k, 'l_train': est.model_.loss_on(X[:n_train], batch),
                   'l_validation': est.model_.loss_on(X[n_train:], batch)}
            row['generalizability'] = row['l_train'] / row['l_validation']
            if y is not None:
                labels = numpy.concatenate([est.labels_, est.predict(X[n_train:])])
                row.update({m: v for m, v in eval_clustering(numpy.asarray(y), labels).items()
                            if m in ('nmi', 'acc')})
            rows.append(row)
    g = [r['generalizability'] for r in rows]
    drops = [a - b for a, b in zip(g, g[1:])]
    choice = candidates[int(numpy.argmax(drops))] if drops else candidates[0]
    return {'rows': rows, 'choice': choice, 'n_train': n_train, 'n_held_out': n_val}
