"""The run layer: one DEC run in its run directory.

:func:`fit_dec` is the one function that runs a configuration (pretraining, k-means
initialisation, DEC); every entry point (the estimator, the command line, the scripts)
reaches training through it. It owns the run directory: what the run is (settings, seed,
data digests in ``run.json``), the lock that keeps a second process out, resuming from
snapshots, loading finished phases instead of retraining them, reusing another run's
pretrained autoencoder, and the provenance of the report (machine, versions, BLAS kernels,
command, commit).

Files of a run directory (all written atomically, each result before the file that says
its phase is complete)::

    run.json                 identity: config, seed, K, data shape and BLAKE2b digests
    .lock                    held by the running process
    pretrain/layerK.npz      each layer-wise pair (+ .json: iterations, loss, seconds)
    pretrain/finetune.npz    the fine-tuned autoencoder (+ .json)
    pretrain/<stage>/        that stage's snapshots and log
    kmeans.npz               the k-means centroids and labels
    dec/                     the DEC phase's snapshots and log
    scratch/                 data on disk (a memory-mapped .npy) only: per-row arrays
                             (codes of the lower pairs, P, labels) as memory-mapped files,
                             removed at the end of the run
    <stage>/rank<r>/         data-parallel runs only: rank r's snapshots (rank 0's are
                             where one process keeps them)
    dec_result.json          iterations, convergence, seconds of the DEC phase
    model.npz                the trained DEC model: the run is complete
"""

import collections
import contextlib
import glob
import hashlib
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy


from dec_chainer import _files, distributed
from dec_chainer.evaluations import eval_clustering
from dec_chainer.kmeans import kmeans, nearest_centroid
from dec_chainer.links import DeepEmbeddedClustering
from dec_chainer.links.dec import iterate_batches, map_batches
from dec_chainer.presets import DECConfig, get_config
from dec_chainer.provenance import environment, git_commit
from dec_chainer.training import build_autoencoder, pretrain_autoencoder, train_dec
from dec_chainer.training._common import stage_random_state, stage_seed
from dec_chainer.training.context import RunContext
from dec_chainer.training.pretrain import stage_info_path
from dec_chainer.validation import (check_array, check_distinct_rows, check_labels,
                                    check_n_clusters, is_memory_mapped, rescale_factor,
                                    row_blocks, value_range)
from dec_chainer.errors import MissingFileError, UserError

RUN_FILE = 'run.json'

#: The settings that determine the pretrained autoencoder (a run can reuse another run's
#: autoencoder when these, the data and the seed agree).
PRETRAIN_KEYS = ('scale', 'pretrain_samples', 'hidden_dims', 'init', 'init_scale',
                 'batchsize', 'lr', 'momentum', 'lr_step', 'lr_gamma', 'weight_decay',
                 'momentum_ramp', 'bias_lr_mult', 'ae_loss', 'layerwise_iters', 'dropout',
                 'dropout_placement', 'finetune_iters', 'rescale', 'lr_backoff')

#: What :func:`fit_dec` returns: the trained :class:`DeepEmbeddedClustering` (None when
#: stopped after pretraining), the label of each clustered row, and the report.
Run = collections.namedtuple('Run', ['model', 'labels', 'report'])


class RunDirectoryInUse(UserError, RuntimeError):
    """Another process holds the run directory."""


class DataScaleWarning(UserWarning):
    """The data's scale is far from what the configuration's learning rate was set for."""


#: ``lr x max|x|^2`` above this warns: the presets' learning rates were set for pixels in
#: [0, 1] (``quick``, lr 1.0: 1) or x 0.02 (``paper``, lr 0.1: 2.6), and the step a linear
#: layer takes grows with the square of its inputs' scale; two orders of magnitude more is
#: far outside what they were made for (``quick`` on 0-16 pixels: 256).
SCALE_LIMIT = 100.0


def input_scale(data_range, config):
    """The factor the run multiplies data of ``data_range`` (min, max) by
    (``config.rescale``; 1 for ``'none'``).

    Warns (:class:`DataScaleWarning`) before training when the scaled data makes the
    autoencoder's learning rate likely to diverge, saying what to do."""
    top = max(-data_range[0], data_range[1])
    scale = rescale_factor(top, config.rescale)
    if config.lr * (top * scale) ** 2 > SCALE_LIMIT:
        warnings.warn(DataScaleWarning(
            'X holds values up to |x| = {:.4g}, but the autoencoder\'s learning rate lr={} '
            'was set for inputs of about unit scale (lr x max|x|^2 = {:.3g} > {:g}): '
            'training will likely diverge. Let the run scale the data (rescale=\'max_abs\', '
            'the quick preset\'s default), scale X to about [0, 1] (e.g. '
            'sklearn.preprocessing.MinMaxScaler) or lower lr.'.format(
                top, config.lr, config.lr * top ** 2, SCALE_LIMIT)), stacklevel=3)
    return scale


def _scaled(X, scale, scratch):
    """``X * scale`` (``X`` itself for 1): in memory, or a memory-mapped file in
    ``scratch`` for data on disk, written a block of rows at a time."""
    if scale == 1.0:
        return X
    if scratch is None:
        return X * numpy.float32(scale)
    out = _files.new_array(scratch, 'X_scaled', X.shape, numpy.float32)
    start = 0
    for block in row_blocks(X):
        out[start:start + len(block)] = block * numpy.float32(scale)
        start += len(block)
    return out


class EmbeddingBlowUpError(UserError):
    """The encoder's weights blew up: its embedding is far beyond any scale DEC can
    cluster, although every loss stayed finite."""


class DegenerateClusteringWarning(UserWarning):
    """DEC ended with empty clusters, or with one cluster holding nearly every point."""


#: An embedding with a coordinate beyond this has blown up (Student's t assignments of such
#: points are 0 or 1 whatever the data), and so has one that DEC grew this many times
#: beyond the centroids k-means found: DEC moves points towards centroids, not away by
#: orders of magnitude.
EMBEDDING_LIMIT = 1e6
EMBEDDING_GROWTH_LIMIT = 1e4
#: One cluster holding at least this share of the points is degenerate.
DOMINANT_SHARE = 0.9


def embedding_max(encode, X, batchsize, device, comm=None):
    """``max |z|`` over the embedding of all rows (all ranks' rows under MPI)."""
    top = 0.0
    for x in iterate_batches(X, batchsize, device):
        z = encode(x)
        top = max(top, float(abs(getattr(z, 'array', z)).max()))
    return max(distributed.allgather(comm, top))


def check_embedding(top, phase, reference=None):
    """Raise :class:`EmbeddingBlowUpError` if ``top`` (``max |z|`` after ``phase``) has
    blown up, absolutely or against ``reference`` (the largest coordinate of the
    centroids the phase started from)."""
    grown = reference is not None and reference > 0 and \
        top > EMBEDDING_GROWTH_LIMIT * reference
    if top > EMBEDDING_LIMIT or grown or not numpy.isfinite(top):
        raise EmbeddingBlowUpError(
            'the encoder blew up during {}: its embedding reaches |z| = {:.3g}{} although the '
            'loss stayed finite, so its clusters would mean nothing (not saved). The '
            'learning rate is too large for this data: lower it, or let the run scale the '
            'data (rescale=\'max_abs\')'.format(
                phase, top, '' if not grown else ', {:.3g} times where it started'.format(
                    top / reference)))


def degenerate_clustering(labels, kmeans_labels, n_clusters):
    """A message saying how the clustering ``labels`` is degenerate, or None: clusters
    left empty, or one cluster with :data:`DOMINANT_SHARE` of the points (K >= 2), with
    the sizes k-means started DEC from (equally degenerate there: the autoencoder
    collapsed the data before DEC began)."""
    sizes = numpy.bincount(labels, minlength=n_clusters)
    km_sizes = numpy.bincount(kmeans_labels, minlength=n_clusters)
    empty = int((sizes == 0).sum())
    share = sizes.max() / sizes.sum()
    if empty:
        what = '{} of the {} clusters are empty'.format(empty, n_clusters)
    elif n_clusters > 1 and share >= DOMINANT_SHARE:
        what = 'one cluster holds {:.0%} of the points'.format(share)
    else:
        return None
    return ('DEC ended degenerate: {}; cluster sizes {} (k-means on the embedding, where DEC '
            'started: {}). Unless the data is that imbalanced, its embedding collapsed: try '
            'more pretraining iterations, another seed, or fewer clusters'.format(
                what, sizes.tolist(), km_sizes.tolist()))


# -- identity --------------------------------------------------------------------------

def data_fingerprint(X, n_pretrain, whole=True):
    """BLAKE2b digests of the first ``n_pretrain`` rows of ``X`` (what the autoencoder
    learns from) and, with ``whole``, of all of them: a run directory refuses other data
    of the same shape."""
    h = hashlib.blake2b(digest_size=16)
    X = numpy.ascontiguousarray(X, dtype=numpy.float32)  # as trained on
    h.update(memoryview(X[:n_pretrain]))  # the bytes of the rows, no copy
    digests = {'pretrain_data_blake2b': h.hexdigest()}
    if whole:
        h.update(memoryview(X[n_pretrain:]))   # one pass over the data for both digests
        digests['data_blake2b'] = h.hexdigest()
    return digests


def run_identity(config, seed, n_clusters, X, processes=1):
    """What makes a run what it is: settings, seed, K, and the data (shape and digest);
    for a data-parallel run also its number of processes (each draws its own minibatches
    and masks, and keeps its own snapshots)."""
    identity = dict({'config': config.to_dict(), 'seed': int(seed),
                     'n_clusters': int(n_clusters), 'n_samples': int(X.shape[0]),
                     'n_features': int(X.shape[1])},
                    **data_fingerprint(X, config.n_pretrain(len(X))))
    if processes > 1:
        identity['processes'] = int(processes)
    return identity


def _comparable(identity):
    """The identity without the bookkeeping settings (snapshot intervals, batch of passes)."""
    flat = {k: v for k, v in identity.items() if k != 'config'}
    # a setting added since the run started has its default, which computes what ran
    config = dict(DECConfig().to_dict(), **identity['config'])
    flat.update({'config.' + k: v for k, v in config.items()
                 if k not in DECConfig.BOOKKEEPING})
    return flat


def _check_run_dir(out, identity):
    """Record what this run is; refuse to resume a different one in the same directory."""
    path = os.path.join(out, RUN_FILE)
    if not os.path.exists(path):
        _files.write_json(path, identity, indent=2, sort_keys=True)
        return
    mine, theirs = _comparable(identity), _comparable(_files.read_json(path))
    for k in ('data_blake2b', 'pretrain_data_blake2b'):
        if k not in theirs:  # a run directory from before data digests were kept
            mine.pop(k, None)
    if mine != theirs:
        diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        raise UserError(
            '{} holds a run with a different configuration or data (differs in: {}); use '
            'another output directory or the same settings and data to resume it'.format(
                out, ', '.join(diff)))


@contextlib.contextmanager
def own_run_dir(out):
    """Hold the run directory ``out`` for this process: a second process gets a clear error
    instead of reading half-written files (an advisory ``flock`` on ``out/.lock``, released
    when the process ends, however it ends)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(os.path.join(out, '.lock'), 'a+') as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or 'another process'
            raise RunDirectoryInUse('run directory {} is in use by {}; wait for it to finish '
                                    'or use another output directory'.format(out, holder)) \
                from None
        f.seek(0)
        f.truncate()
        f.write('process {}\n'.format(os.getpid()))
        f.flush()
        _files.remove_leftovers(out)  # of writes killed midway: no process owns them now
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -- reuse of a pretrained autoencoder ---------------------------------------------------

def check_pretrained(source, config, seed, X):
    """The files of the autoencoder run directory ``source`` pretrained for ``config``.

    Raises ``ValueError`` unless ``source`` pretrained with the same settings
    (:data:`PRETRAIN_KEYS`), seed and data (shape and digest of the pretraining rows), and
    ``FileNotFoundError`` if it has not finished pretraining.
    """
    path = os.path.join(source, RUN_FILE)
    if not os.path.exists(path):
        raise MissingFileError('{} is not a run directory (no {})'.format(source, RUN_FILE))
    theirs = _files.read_json(path)
    # a setting added since that run started has its default, which computes what ran
    their_config = dict(DECConfig().to_dict(), **theirs['config'])
    mine = dict(config=config.to_dict(), seed=int(seed), n_samples=int(X.shape[0]),
                n_features=int(X.shape[1]))
    diff = [k for k in PRETRAIN_KEYS if their_config.get(k) != mine['config'].get(k)]
    diff += [k for k in ('seed', 'n_samples', 'n_features') if theirs.get(k) != mine[k]]
    if not diff:  # the data is hashed only where everything else agrees
        digest = data_fingerprint(X, config.n_pretrain(len(X)), whole=False)
        if theirs.get('pretrain_data_blake2b') != digest['pretrain_data_blake2b']:
            diff.append('pretrain_data_blake2b')
    if diff:
        raise UserError('{} pretrained a different autoencoder (differs in: {})'.format(
            source, ', '.join(diff)))
    # the fine-tuned autoencoder is the whole result (the layer-wise pairs only start it)
    files = (['finetune.npz'] if config.finetune_iters else
             ['layer{}.npz'.format(k + 1) for k in range(len(config.hidden_dims))]
             if config.layerwise_iters else [])
    missing = [f for f in files if not os.path.exists(os.path.join(source, 'pretrain', f))]
    if missing:
        raise MissingFileError('{} has not finished pretraining (missing {})'.format(
            source, ', '.join(missing)))
    _check_digests(source)
    return files


#: A shipped autoencoder's file digests: ``{path under the run directory: BLAKE2b}``.
DIGESTS_FILE = 'digests.json'


def file_digest(path):
    """BLAKE2b (16 bytes, hex) of the file ``path``."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def ship_pretrained(run, dest):
    """Copy the pretrained autoencoder of run directory ``run`` to ``dest`` for others to
    reuse (``pretrained=dest``): its ``run.json``, fine-tuned weights and stage reports, a
    ``provenance.json`` (the run's command, commit, machine, versions, wall time and
    AE+k-means result) and the :data:`DIGESTS_FILE` of the weights and ``run.json``, which
    every reuse checks."""
    identity = _files.read_json(os.path.join(run, RUN_FILE))
    weights = os.path.join(run, 'pretrain', 'finetune.npz')
    if not identity['config'].get('finetune_iters'):
        raise UserError('{}: no fine-tuning stage to ship'.format(run))
    if not os.path.exists(weights):
        raise MissingFileError('{} has not finished pretraining (no {})'.format(run, weights))
    os.makedirs(os.path.join(dest, 'pretrain'), exist_ok=True)
    for path in [os.path.join(run, RUN_FILE), weights] + sorted(
            glob.glob(os.path.join(run, 'pretrain', '*.json'))):
        _files.copy(path, os.path.join(dest, os.path.relpath(path, run)))
    report = _files.read_json(os.path.join(run, 'metrics.json')) \
        if os.path.exists(os.path.join(run, 'metrics.json')) else {}
    _files.write_json(os.path.join(dest, 'provenance.json'), dict(
        {k: report.get(k) for k in ('provenance', 'machine', 'blas', 'versions', 'seed',
                                    'preset', 'dataset', 'seconds', 'pretrain')},
        source_run=os.path.abspath(run), ae_kmeans=report.get('metrics', {}).get('ae_kmeans')))
    _files.write_json(os.path.join(dest, DIGESTS_FILE), {
        name: file_digest(os.path.join(dest, name))
        for name in (RUN_FILE, os.path.join('pretrain', 'finetune.npz'))}, sort_keys=True)
    return dest


def _check_digests(source):
    """Where ``source`` lists its files' digests (a shipped autoencoder), each must match."""
    path = os.path.join(source, DIGESTS_FILE)
    if not os.path.exists(path):
        return
    for name, digest in sorted(_files.read_json(path).items()):
        if file_digest(os.path.join(source, name)) != digest:
            raise UserError('{}: its BLAKE2b digest is not the one {} records ({}): the '
                             'file was changed or damaged; restore it (git checkout) or '
                             'pretrain again'.format(os.path.join(source, name), path, digest))


def _check_readable(path, source):
    """``path`` (a stage of the run directory ``source``) reads as a whole ``.npz``."""
    try:
        _files.read_arrays(path)
    except ValueError as e:
        raise UserError('{}; it is the pretrained autoencoder of {}: delete it and pretrain '
                         'again there (the same pretrain command resumes {}), or run without '
                         '--pretrained'.format(str(e).split('; delete it')[0], source,
                                               source)) from None


def find_pretrained(candidates, config, seed, X):
    """The first run directory among ``candidates`` holding this autoencoder, or None."""
    for source in candidates:
        try:
            check_pretrained(source, config, seed, X)
        except (ValueError, FileNotFoundError):
            continue
        return source
    return None


def _reuse_pretrained(source, out, config, seed, X, log):
    """Copy the pretrained autoencoder of run directory ``source`` into ``out``."""
    files = check_pretrained(source, config, seed, X)
    for f in files:  # a damaged source is named before anything is copied
        _check_readable(os.path.join(source, 'pretrain', f), source)
    os.makedirs(os.path.join(out, 'pretrain'), exist_ok=True)
    stages = ['layer{}.npz'.format(k + 1) for k in range(len(config.hidden_dims))] + files
    for f in stages:  # every stage's recorded iterations, loss and time
        info = stage_info_path(os.path.join(source, 'pretrain', f))
        if os.path.exists(info):
            _files.copy(info, stage_info_path(os.path.join(out, 'pretrain', f)))
    for f in files:
        _files.copy(os.path.join(source, 'pretrain', f), os.path.join(out, 'pretrain', f))
    log('[pretrain] reusing the autoencoder of {}'.format(source))


# -- the run -----------------------------------------------------------------------------

def fit_dec(X, y=None, n_clusters=10, config='paper', out=None, seed=0, context=None,
            stop_after=None, pretrained=None):
    """Run DEC end to end on ``X``: the one function that runs a configuration.

    1. Pretrain the stacked denoising autoencoder on the first ``config.pretrain_samples``
       rows (layer-wise, then end to end).
    2. k-means (``config.kmeans_n_init`` restarts) on the embedding of the first
       ``config.cluster_samples`` rows initialises the centroids.
    3. DEC refines encoder and centroids on those rows until the labels settle.

    Args:
        X (array): data, shape (n, d); float32 is used.
        y (array): optional labels, for ACC/NMI/ARI in the report (never for training).
        n_clusters (int): number of clusters K.
        config (str or DECConfig): a preset name or a config.
        out (str): the run directory; a run cut short resumes from it when called again
            with the same settings and data. None: a temporary directory.
        seed (int): the one seed of everything (initialisation, dropout, shuffling, k-means).
        context (RunContext): the device (``RunContext(device=0)``: GPU 0), the log, the
            progress bars, the command line to record (see
            :class:`~dec_chainer.training.RunContext`; default: the CPU, ``print``, bars)
            and, for data-parallel training over MPI, a ChainerMN communicator (see
            :mod:`dec_chainer.distributed`): every rank passes the same ``X`` (a
            memory-mapped ``.npy`` is read only where the rank's rows lie) and trains on
            its share of the rows; rank 0 alone checks the whole data set, writes the run
            directory and logs, and gets the labels and the full report.
        stop_after (str): ``'pretrain'`` to stop after pretraining.
        pretrained (str): a run directory whose autoencoder (same pretraining settings, seed
            and data) this run copies instead of pretraining.

    Returns:
        Run: ``(model, labels, report)``; the report holds the metrics and wall time of each
        phase, the pretraining stages, the DEC phase's iterations and convergence, the
        configuration, and machine, versions, BLAS kernels, command and commit. Under MPI
        the model is on every rank, the labels (of all rows) and the report on rank 0
        (None elsewhere).
    """
    if stop_after not in (None, 'pretrain'):
        raise UserError("stop_after must be None or 'pretrain'; got {!r}".format(stop_after))
    config = get_config(config) if not isinstance(config, DECConfig) else config.validate()
    context = context or RunContext()
    comm = context.comm
    X, y, n_clusters, data_range, scale = _check_data(X, y, n_clusters, config, context)
    if pretrained is not None and out is None:
        raise UserError('reusing a pretrained autoencoder needs a run directory (out)')
    context.device.use()
    origin = {'command': ' '.join(sys.argv if context.command is None else context.command),
              'git_commit': git_commit()}  # what this run starts from
    tmp = None
    if out is None:
        tmp = out = tempfile.mkdtemp(prefix='dec_chainer_')
    os.makedirs(out, exist_ok=True)
    try:
        with own_run_dir(out) if context.root else contextlib.nullcontext():
            if context.root:
                _check_run_dir(out, run_identity(config, seed, n_clusters, X,
                                                 context.processes))
                if pretrained is not None:
                    _reuse_pretrained(pretrained, out, config, seed, X, context.log)
            # data on disk (a memory-mapped .npy): the per-row arrays go to files too
            if context.bcast(is_memory_mapped(X)):  # rank 0's X: checked
                context = context.replace(scratch=os.path.join(out, 'scratch', *(
                    [] if comm is None else ['rank{}'.format(comm.rank)])))
            model, labels, report = _run(X, y, n_clusters, config, out, seed, context, scale,
                                         stop_after)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if not context.root:
        return Run(model, None, None)
    if pretrained is not None:
        report['pretrained_from'] = os.path.abspath(pretrained)
    report['provenance'] = origin
    report['input_range'] = list(data_range)  # what predictions are checked against
    return Run(model, labels, report)


def _check_data(X, y, n_clusters, config, context):
    """``X``, ``y`` and K checked before anything is computed (rank 0 checks the whole data
    set, the others their rows), the data's range and the factor the run scales it by."""
    comm = context.comm
    if context.root:
        X = check_array(X, name='X')
    else:
        check_array(X[distributed.shard(len(X), comm)], name='X')
    if y is not None:
        y = check_labels(y, X.shape[0], name='y')
    n_clusters = check_n_clusters(n_clusters, config.n_cluster(len(X)))
    scale = data_range = None
    if context.root:
        check_distinct_rows(X[:config.n_cluster(len(X))], n_clusters)
        data_range = value_range(X)
        scale = input_scale(data_range, config)
    for name, value in (('batchsize', config.batchsize),
                        ('dec_batchsize', config.dec_batchsize or context.processes)):
        context.local_batchsize(value, name)  # refused before any training
    return X, y, n_clusters, data_range, context.bcast(scale)


def _run(X, y, n_clusters, config, out, seed, context, scale, stop_after):
    """The phases of a run, each loaded where its result file exists: pretraining, k-means
    on the embedding, DEC, the report."""
    n_pre, n_cl = config.n_pretrain(len(X)), config.n_cluster(len(X))
    # this process's rows (all of them for one process; X is checked float32 at rank 0)
    X_pre, X_cl = (numpy.ascontiguousarray(X[:n][distributed.shard(n, context.comm)],
                                           dtype=numpy.float32) for n in (n_pre, n_cl))
    y_cl = None if y is None or not context.root else y[:n_cl]
    report = _new_report(seed, n_clusters, n_pre, n_cl, config, context, scale)
    sdae = _pretrain(X_pre, config, out, seed, context, scale, report)
    if stop_after == 'pretrain':
        return None, None, report
    model = DeepEmbeddedClustering(sdae, numpy.zeros((n_clusters, sdae.embedding_size)),
                                   config.alpha, config.kernel, config.dec_loss_reduce,
                                   input_scale=scale,  # centroids: k-means' below
                                   freeze_encoder=config.dec_encoder == 'frozen')
    model.to_device(context.device)
    if config.cluster_seed is not None:
        seed = config.cluster_seed  # the k-means start and the DEC phase only
    km_labels, km_local = _initial_centroids(model, X_cl, config, out, seed, context, report)
    if y_cl is not None:
        report['metrics']['ae_kmeans'] = eval_clustering(y_cl, km_labels)
        context.log('[kmeans] AE+k-means: ' + _fmt(report['metrics']['ae_kmeans']))
    report['dec'] = _dec(model, X_cl, y_cl, km_local, n_cl, config, out, seed, context)
    labels = distributed.gather_rows(context.comm, model.predict(X_cl, config.eval_batchsize))
    if context.scratch is not None:
        shutil.rmtree(context.scratch, ignore_errors=True)
    if not context.root:
        return model, None, None
    _finish_report(report, labels, km_labels, y_cl, context)
    return model, labels, report


def _new_report(seed, n_clusters, n_pre, n_cl, config, context, scale):
    report = {'seed': int(seed), 'n_clusters': n_clusters, 'n_pretrain': n_pre,
              'n_cluster': n_cl, 'device': str(context.device), 'config': config.to_dict(),
              'seconds': {}, 'metrics': {}}
    if context.comm is not None:
        report['processes'] = context.processes
    if context.scratch is not None:
        report['data_on_disk'] = True  # memory-mapped: per-row arrays in files as well
    report['input_scale'] = scale
    if scale != 1.0:
        context.log('[data] values scaled by {:g} (rescale={!r}; the model keeps the '
                    'factor)'.format(scale, config.rescale))
    report.update(environment())  # machine, versions, BLAS kernels (what reproduces)
    return report


def _pretrain(X_pre, config, out, seed, context, scale, report):
    """Phase 1: the autoencoder (pretrained, or loaded stage by stage)."""
    t0 = time.time()
    sdae = build_autoencoder(X_pre.shape[1], config, stage_random_state(seed, 0))
    sdae.to_device(context.device)
    report['pretrain'] = pretrain_autoencoder(sdae, _scaled(X_pre, scale, context.scratch),
                                              config, os.path.join(out, 'pretrain'), seed,
                                              context)
    # the recorded training time of each stage (also when loaded or resumed)
    recorded = [st.get('seconds') for st in report['pretrain'].values()]
    report['seconds']['pretrain'] = (round(sum(recorded), 2) if None not in recorded
                                     else round(time.time() - t0, 2))
    return sdae


def _initial_centroids(model, X_cl, config, out, seed, context, report):
    """Phase 2: k-means on the embedding (gathered at rank 0; on a subset of the rows with
    ``kmeans_samples``, every row then gets its nearest centroid) sets the model's
    centroids. Returns the labels of all rows (rank 0) and of this rank's rows."""
    path = os.path.join(out, 'kmeans.npz')
    mine = distributed.shard(report['n_cluster'], context.comm)  # this rank's rows of all

    def load():
        centroids = labels = seconds = None
        if context.root:
            f = _files.read_arrays(path, ('centroids', 'labels', 'seconds'))
            if 'centroids' not in f or 'labels' not in f:
                raise UserError('{} holds no k-means result; delete it to recompute '
                                'it'.format(path))
            centroids, labels = f['centroids'], f['labels']
            seconds = float(f['seconds']) if 'seconds' in f else None
        centroids, labels = distributed.bcast(context.comm, (centroids, labels))
        return centroids, labels, labels[mine], seconds

    def compute():
        t0 = time.time()
        centroids, labels, local = _kmeans(model, X_cl, report['n_cluster'], config, seed,
                                           context)
        seconds = time.time() - t0
        if context.root:
            _files.savez(path, centroids=centroids, labels=labels, seconds=seconds)
        return centroids, labels, local, seconds

    t0 = time.time()
    centroids, labels, local, seconds = context.load_or_compute(path, load, compute)
    report['seconds']['kmeans'] = round(time.time() - t0 if seconds is None else seconds, 2)
    model.centroids.array[...] = model.xp.asarray(centroids, dtype=numpy.float32)
    return labels, local


def _kmeans(model, X_cl, n_cl, config, seed, context):
    """k-means on the embedding of the ``n_cl`` clustered rows (this rank's: ``X_cl``) or
    of ``kmeans_rows`` of them."""
    comm, encode = context.comm, model.embed
    mine = distributed.shard(n_cl, comm)
    subset = kmeans_rows(n_cl, config, seed)
    rows = None if subset is None else \
        subset[(subset >= mine.start) & (subset < mine.stop)] - mine.start
    Z = distributed.gather_rows(comm, map_batches(encode, X_cl, config.eval_batchsize,
                                                  context.device, rows=rows))
    centroids = labels = None
    if context.root:
        context.log('[kmeans] {} restarts on the {}-d embedding of {} points{}'.format(
            config.kmeans_n_init, Z.shape[1], len(Z),
            '' if subset is None else ' of {}'.format(n_cl)))
        check_embedding(float(abs(Z).max()) if Z.size else 0.0, 'pretraining')
        centroids, labels, _ = kmeans(Z, model.n_clusters, n_init=config.kmeans_n_init,
                                      random_state=stage_seed(seed, 200) % (2 ** 31))
    del Z
    if subset is None:
        centroids, labels = distributed.bcast(comm, (centroids, labels))
        return centroids, labels, labels[mine]
    centroids = distributed.bcast(comm, centroids)  # every row: its nearest centroid
    local = map_batches(encode, X_cl, config.eval_batchsize, context.device,
                        out=context.new_array('kmeans_labels', (len(X_cl),), numpy.int64),
                        then=lambda z: nearest_centroid(z, centroids))
    labels = distributed.gather_rows(  # on disk at rank 0 too
        comm, local, None if not context.root or comm is None else context.new_array(
            'kmeans_labels_all', (n_cl,), numpy.int64))
    return centroids, labels, local


def _dec(model, X_cl, y_cl, km_local, n_cl, config, out, seed, context):
    """Phase 3: DEC from the k-means centroids (or the finished model, loaded)."""
    path = os.path.join(out, 'model.npz')

    def load():
        dec = {}
        if context.root:
            _files.load_npz(path, model)
            dec = _files.read_json(os.path.join(out, 'dec_result.json'))
        distributed.bcast_params(context.comm, model)
        context.log('[dec] loaded {}'.format(path))
        return dec

    def compute():
        context.log('[dec] {} points, {} clusters, P every {} iterations, at most {}'.format(
            n_cl, model.n_clusters,
            config.update_interval, config.dec_max_iter))
        start = float(abs(model.centroids.array).max())
        dec = train_dec(model, X_cl, config, os.path.join(out, 'dec'),
                        stage_seed(seed, 301), y_cl, km_local, context)
        dec.pop('log')
        check_embedding(embedding_max(model.embed, X_cl, config.eval_batchsize,
                                      context.device, context.comm), 'the DEC phase', start)
        if context.root:  # the result first: model.npz, written last, says it is complete
            _files.write_json(os.path.join(out, 'dec_result.json'), dec)
            _files.save_npz(path, model)
        return dec

    return context.load_or_compute(path, load, compute)


def _finish_report(report, labels, km_labels, y_cl, context):
    """The DEC phase's time and metrics, and a warning for a degenerate clustering."""
    report['seconds']['dec'] = report['dec'].get('seconds', 0.0)
    report['seconds']['compute'] = round(sum(report['seconds'][k] for k in
                                             ('pretrain', 'kmeans', 'dec')), 2)
    if y_cl is not None:
        report['metrics']['dec'] = eval_clustering(y_cl, labels)
        context.log('[dec] DEC: ' + _fmt(report['metrics']['dec']))
    degenerate = degenerate_clustering(labels, km_labels, report['n_clusters'])
    if degenerate is not None:
        report['warnings'] = [degenerate]
        context.log('[dec] warning: ' + degenerate)
        warnings.warn(DegenerateClusteringWarning(degenerate), stacklevel=4)


def kmeans_rows(n, config, seed):
    """The rows k-means runs on: None (all ``n``) or, with ``config.kmeans_samples`` below
    ``n``, that many distinct rows drawn uniformly (sorted) from a stream of ``seed``."""
    if not config.kmeans_samples or config.kmeans_samples >= n:
        return None
    k = config.kmeans_samples
    rng = numpy.random.RandomState(stage_seed(seed, 201) % (2 ** 32))
    if 2 * k > n:
        return numpy.sort(rng.permutation(n)[:k])
    # uniform draws, duplicates dropped, until k: memory O(k), not O(n) (n may be billions)
    chosen = numpy.empty(0, numpy.int64)
    while len(chosen) < k:
        chosen = numpy.concatenate([chosen, rng.randint(0, n, 2 * (k - len(chosen)) + 16)])
        _, first = numpy.unique(chosen, return_index=True)
        chosen = chosen[numpy.sort(first)]
    return numpy.sort(chosen[:k])


def _fmt(m):
    return 'ACC {acc:.4f}  NMI {nmi:.4f}  ARI {ari:.4f}'.format(**m)
