"""Experiments: a named data set or file, a preset and its overrides, run into a run directory
and written out as files and tables. What ``dec-chainer train|pretrain|cluster|compare`` and
the scripts run; training itself goes through :func:`dec_chainer.runs.fit_dec` (via the
estimator).

- :func:`run_experiment`: one configuration; the model, labels, metrics and figures in its
  run directory, and with ``results`` the commit-ready report beside the others.
- :func:`run_many`: N configurations (a comparison, an ablation) in one directory each,
  tabulated into JSON and Markdown after every run.
"""

import collections
import json
import os
import time
import warnings

import numpy
from sklearn.exceptions import ConvergenceWarning

from dec_chainer import _files
from dec_chainer.datasets import DATASETS, IMAGE_SHAPES, default_n_clusters, load_dataset
from dec_chainer.estimator import DEC
from dec_chainer.presets import get_config
from dec_chainer.provenance import provenance
from dec_chainer.reporting import format_table, write_tables
from dec_chainer.runs import find_pretrained, fit_dec
from dec_chainer.training import RunContext
from dec_chainer.validation import check_n_clusters
from dec_chainer.errors import UserError

#: The model file of a run directory (:meth:`dec_chainer.DEC.load` reads it).
MODEL_FILE = 'dec_model.npz'


def parse_overrides(items):
    """``['dec_max_iter=2000', 'kernel=distance']`` -> dict; values parsed as JSON if they can."""
    overrides = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise UserError('override {!r} is not KEY=VALUE'.format(item))
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
        if isinstance(overrides[key], list):
            overrides[key] = tuple(overrides[key])
    return overrides


def split_overrides(overrides, presets):
    """``KEY=VALUE`` overrides for every preset, ``PRESET.KEY=VALUE`` for one.

    Returns ``{preset: overrides}``; raises ``ValueError`` for a prefix naming none of
    ``presets``.
    """
    unknown = sorted({k.split('.', 1)[0] for k in overrides if '.' in k} - set(presets))
    if unknown:
        raise UserError('--set names unknown presets: {} (PRESET.KEY=VALUE takes one of {})'
                         .format(', '.join(unknown), ', '.join(presets)))
    per = {}
    for preset in presets:
        per[preset] = {k: v for k, v in overrides.items() if '.' not in k}
        per[preset].update({k.split('.', 1)[1]: v for k, v in overrides.items()
                            if k.startswith(preset + '.')})
    return per


def describe_plan(dataset='mnist', preset='quick', overrides=None, n_clusters=None):
    """Check the data and the settings as a run would, and describe what it would do.

    Raises the errors a run would raise before training; trains nothing.
    """
    config = get_config(preset, **(overrides or {}))
    X, y = load_dataset(dataset, scale=config.scale)
    if n_clusters is None:
        n_clusters = default_n_clusters(y)
    n_pre, n_cl = config.n_pretrain(len(X)), config.n_cluster(len(X))
    check_n_clusters(n_clusters, n_cl)
    dims = '-'.join(str(d) for d in (X.shape[1],) + tuple(config.hidden_dims))
    batch = config.dec_batchsize or 'all {}'.format(n_cl)
    values = ('pixels scaled {!r}'.format(config.scale) if dataset in DATASETS else
              'values as in the file (scale applies to the image data sets only)')
    return '\n'.join([
        'data: {}, {} x {} ({}), {} clusters, {}'.format(
            dataset, X.shape[0], X.shape[1], 'labelled' if y is not None else 'no labels',
            n_clusters, values),
        'autoencoder {} on {} points: layer-wise {} iterations per pair, fine-tuning {} '
        'iterations (batch {}, lr {}, {})'.format(
            dims, n_pre, config.layerwise_iters, config.finetune_iters, config.batchsize,
            config.lr, config.ae_loss),
        'k-means: {} restarts on the embedding of {} points'.format(
            config.kmeans_n_init, n_cl if not config.kmeans_samples
            else '{} of the {} (the rest: nearest centroid)'.format(
                min(config.kmeans_samples, n_cl), n_cl)),
        'DEC: {} kernel, alpha {}, batch {}, lr {}, P every {} iterations, stop below {} '
        'label changes or at {} iterations'.format(
            config.kernel, config.alpha, batch, config.dec_lr, config.update_interval,
            config.tol, config.dec_max_iter),
    ])


def default_name(preset, dataset, seed):
    """``<preset>-<data set or file stem>-seed<seed>``: the default run and result name."""
    return '{}-{}-seed{}'.format(
        preset, os.path.splitext(os.path.basename(str(dataset)))[0], seed)


def run_experiment(dataset='mnist', preset='quick', overrides=None, n_clusters=None, seed=0,
                   out=None, context=None, stop_after=None, pretrained=None, results=None):
    """Load ``dataset``, run DEC with ``preset`` (+ ``overrides``) in run directory ``out``.

    With ``out`` the run directory also gets the report (``metrics.json``: metrics and wall
    time of each phase, configuration, seed, machine, versions, BLAS kernels, command,
    commit), the model (``dec_model.npz``, loadable with :meth:`dec_chainer.DEC.load`), the
    labels and, with ``context.figures``, the figures of :func:`write_run_figures`. With
    ``results`` (a path stem ``DIR/NAME``; NAME by default :func:`default_name`) the report
    also goes to ``DIR/NAME.json`` and the DEC phase's log to ``DIR/NAME.dec_log.json``.
    ``stop_after='pretrain'`` stops after the autoencoder; ``pretrained=DIR`` reuses the
    autoencoder of the run directory ``DIR``. ``context``
    (:class:`~dec_chainer.training.RunContext`): the device, log, progress bars, command
    line and, for a data-parallel run, the communicator (see
    :func:`~dec_chainer.runs.fit_dec`; rank 0 alone writes and logs, the other ranks
    return ``(estimator, None)``).

    Returns:
        tuple: the fitted :class:`~dec_chainer.DEC` (None when stopped after pretraining)
        and the report.
    """
    config = get_config(preset, **(overrides or {}))
    context = context or RunContext()
    log = context.log
    t0 = time.time()
    X, y = load_dataset(dataset, scale=config.scale)
    if n_clusters is None:
        n_clusters = default_n_clusters(y)
    load_s = time.time() - t0
    log('[data] {}: {} x {}, {} clusters, preset {}, seed {}{}'.format(
        dataset, X.shape[0], X.shape[1], n_clusters, preset, seed,
        '' if context.processes == 1 else ', {} processes'.format(context.processes)))
    if stop_after is not None:
        est, report = None, fit_dec(X, y, n_clusters, config, out, seed, context,
                                    stop_after=stop_after, pretrained=pretrained).report
    else:
        est = DEC.from_config(config, n_clusters, random_state=seed, device=context.device,
                              run_dir=out, verbose=context.progress)
        with warnings.catch_warnings():  # the report says whether DEC converged
            warnings.simplefilter('ignore', ConvergenceWarning)
            est.fit(X, y, context, pretrained)
        report = est.report_
    if not context.root:
        return est, None
    report['seconds']['load'] = round(load_s, 2)
    report['seconds']['total'] = round(time.time() - t0, 2)
    report.update(dataset=dataset, preset=preset, overrides=overrides or {})
    if out is not None and est is not None:
        with _files.atomic_write(os.path.join(out, 'labels.npy'), 'wb') as f:
            numpy.save(f, est.labels_)
        est.save(os.path.join(out, MODEL_FILE))
        if context.figures:
            n_cl = report['n_cluster']
            report['figures'] = write_run_figures(
                out, est, X[:n_cl], None if y is None else y[:n_cl], seed=seed,
                image_shape=IMAGE_SHAPES.get(dataset))
    if out is not None:
        _files.write_json(os.path.join(out, 'metrics.json'), report)
    if results is not None:
        os.makedirs(os.path.dirname(results) or '.', exist_ok=True)
        _files.write_json(results + '.json', report)
        dec_log = os.path.join(out or '', 'dec', 'log')
        if out is not None and os.path.exists(dec_log):
            _files.copy(dec_log, results + '.dec_log.json')
    return est, report


#: One configuration of :func:`run_many`: its name (and run subdirectory), preset,
#: overrides, and the values it adds to its row of the table.
Job = collections.namedtuple('Job', ['name', 'preset', 'overrides', 'row'])


def run_row(report):
    """The row of a finished run in the tables of :func:`run_many`."""
    m, s = report['metrics'], report['seconds']
    ae, dec = m.get('ae_kmeans', {}), m.get('dec', {})
    return {'ae_acc': ae.get('acc'), 'ae_nmi': ae.get('nmi'), 'ae_ari': ae.get('ari'),
            'acc': dec.get('acc'), 'nmi': dec.get('nmi'), 'ari': dec.get('ari'),
            'iterations': report['dec']['iterations'], 'pretrain_s': s['pretrain'],
            'dec_s': s['dec'], 'seconds': s['compute'],
            'pretrained_from': report.get('pretrained_from')}


def run_many(jobs, dataset, seed, out, stem, columns, n_clusters=None, context=None,
             pretrained=(), finish=None):
    """Run each of ``jobs`` in ``OUT/<job.name>``; tabulate the rows into ``STEM.json`` and
    ``STEM.md`` (:func:`~dec_chainer.reporting.write_tables`, with each job's overrides and
    the provenance of ``context.command``) after every run.

    A job whose autoencoder settings, seed and data equal those of a finished run (a run
    directory in ``pretrained``, or another job's) reuses that autoencoder, and such jobs
    run first. Rows keep the jobs' order; ``finish(rows)`` may add derived columns. A killed
    batch resumes where it stopped when started again with the same ``out``.

    Returns:
        list of dict: the rows.
    """
    scaled = {}  # the data as each scale makes it (reuse compares its digest)

    def source(job):
        config = get_config(job.preset, **job.overrides)
        if os.path.exists(os.path.join(out, job.name, 'pretrain', 'finetune.npz')):
            return None  # its own autoencoder is there
        if config.scale not in scaled:
            scaled[config.scale] = load_dataset(dataset, scale=config.scale)[0]
        others = [os.path.join(out, j.name) for j in jobs if j.name != job.name]
        return find_pretrained(list(pretrained) + others, config, seed, scaled[config.scale])

    for job in jobs:  # every configuration is checked before anything runs
        get_config(job.preset, **job.overrides)
    order = [job.name for job in jobs]
    context = context or RunContext()
    log = context.log
    origin = provenance(context.command)
    rows, t0 = [], time.time()
    for job in sorted(jobs, key=lambda job: source(job) is None):
        src = source(job)
        log('\n=== {}{}'.format(job.name, ', reusing the autoencoder of ' + src if src else ''))
        _, report = run_experiment(dataset, job.preset, job.overrides, n_clusters, seed,
                                   os.path.join(out, job.name),
                                   context.replace(figures=False), pretrained=src)
        rows.append(dict(dict(job.row, name=job.name), **run_row(report)))
        rows.sort(key=lambda row: order.index(row['name']))
        if finish is not None:
            finish(rows)
        table = write_tables(stem, rows, columns, {
            'dataset': dataset, 'seed': seed,
            'overrides': {job.name: job.overrides for job in jobs},
            'provenance': origin, 'wall_seconds': round(time.time() - t0, 1)})
        log('\n' + table)
    return rows


def _read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def write_run_figures(out, estimator, X, y=None, seed=0, n_points=500, image_shape=None):
    """The figures of a run directory, as PNG files under ``out/figures``.

    ``tsne.png``: the article's figure, t-SNE of ``n_points`` random points with the
    centroids as black triangles (coloured by true label when known, else by cluster);
    ``curves.png``: pretraining losses and the DEC phase's metrics; ``confusion.png``: the
    clusters against the classes after Hungarian matching (when labels are known);
    ``top.png``: each cluster's most confident members (rows of ``X`` as images of
    ``image_shape``, when given), the paper's Figure 3.
    """
    from dec_chainer.visualizations import (tsne_with_centroids, vis_confusion,
                                            vis_dec_curves, vis_embedding, vis_loss_curves,
                                            vis_top_members)
    from dec_chainer.visualizations._mpl import pyplot, save
    fig_dir = os.path.join(out, 'figures')
    os.makedirs(fig_dir, exist_ok=True)
    written = {}

    q = estimator.predict_proba(X)
    labels = q.argmax(axis=1)
    if image_shape is not None:
        written['top'] = save(vis_top_members(X, q, image_shape),
                              os.path.join(fig_dir, 'top.png'))
    Z = estimator.transform(X)
    pts, cents, idx = tsne_with_centroids(Z, estimator.cluster_centers_, n_points, seed)
    colors, what = (y[idx], 'true label') if y is not None else (labels[idx], 'cluster')
    ax = vis_embedding(pts, colors, cents, title='t-SNE of {} points, centroids as '
                       'triangles'.format(len(idx)), color_label=what)
    written['tsne'] = save(ax, os.path.join(fig_dir, 'tsne.png'))

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    pre_dir = os.path.join(out, 'pretrain')
    stages = sorted(d for d in os.listdir(pre_dir)
                    if os.path.isdir(os.path.join(pre_dir, d))) if os.path.isdir(pre_dir) else []
    vis_loss_curves({s: _read_log(os.path.join(pre_dir, s, 'log')) for s in stages},
                    ax=axes[0])
    vis_dec_curves(_read_log(os.path.join(out, 'dec', 'log')), ax=axes[1])
    written['curves'] = save(axes[0], os.path.join(fig_dir, 'curves.png'))

    if y is not None:
        ax = vis_confusion(y, labels, ax=pyplot().subplots(figsize=(7, 6))[1])
        written['confusion'] = save(ax, os.path.join(fig_dir, 'confusion.png'))
    return written


def results_table(report):
    """The per-phase table of one run (ACC/NMI/ARI when labels were known, wall time)."""
    m, s = report['metrics'], report['seconds']
    rows = [
        dict(phase='AE + k-means', seconds=s['pretrain'] + s['kmeans'], **m.get('ae_kmeans', {})),
        dict(phase='DEC ({} iterations{})'.format(
            report['dec']['iterations'], ', converged' if report['dec']['converged'] else ''),
            seconds=s['dec'], **m.get('dec', {})),
    ]
    return format_table(rows, [('phase', 'phase'), ('acc', 'ACC'), ('nmi', 'NMI'),
                               ('ari', 'ARI'), ('seconds', 'time (s)', '{:.0f}')])


#: The columns of ``choose-k``'s table.
CHOOSE_K_COLUMNS = [('n_clusters', 'K'), ('generalizability', 'G = L_train / L_val'),
                    ('l_train', 'L_train', '{:.4g}'), ('l_validation', 'L_val', '{:.4g}'),
                    ('nmi', 'NMI'), ('acc', 'ACC')]


def run_choose_k(dataset, preset, overrides, candidates, held_out, seed, out, context,
                 pretrained=None, stem=None):
    """:func:`~dec_chainer.estimator.choose_n_clusters` on ``dataset`` with ``preset``
    (+ ``overrides``), each K's run in ``out/k<K>``; the table in ``STEM.json``/``.md`` and
    the figure (the paper's Figure 6) in ``STEM.png``. Returns the result dict."""
    from dec_chainer.estimator import choose_n_clusters
    from dec_chainer.visualizations import save_figure, vis_n_clusters
    config = get_config(preset, **overrides)
    X, y = load_dataset(dataset, scale=config.scale)
    t0 = time.time()
    est = DEC.from_config(config, 2, random_state=seed, device=context.device,
                          verbose=context.progress)
    params = {k: v for k, v in est.get_params().items() if k not in ('n_clusters', 'run_dir')}
    result = choose_n_clusters(X, candidates, held_out, y, out, pretrained, **params)
    meta = {'dataset': dataset, 'seed': seed, 'overrides': overrides, 'preset': preset,
            'choice': result['choice'], 'n_train': result['n_train'],
            'n_held_out': result['n_held_out'], 'pretrained': pretrained,
            'provenance': provenance(context.command),
            'wall_seconds': round(time.time() - t0, 1)}
    stem = stem or os.path.join(out, 'choose-k')
    table = write_tables(stem, result['rows'], CHOOSE_K_COLUMNS, meta)
    save_figure(vis_n_clusters(result['rows'], result['choice'], title='{}: K by '
                               'generalizability (held out: the last {} rows)'.format(
                                   dataset, result['n_held_out'])), stem + '.png')
    context.log(table + '\nchosen K: {} (the K before the largest drop of G)'.format(
        result['choice']))
    return result
