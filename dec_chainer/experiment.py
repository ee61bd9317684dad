"""One DEC experiment on a named data set or file: what ``dec-chainer train`` runs."""

import json
import os
import time

import numpy

from dec_chainer import _files
from dec_chainer.datasets import default_n_clusters, load_dataset
from dec_chainer.estimator import DEC
from dec_chainer.presets import get_config
from dec_chainer.provenance import provenance
from dec_chainer.reporting import format_table
from dec_chainer.training import fit_dec
from dec_chainer.training.pipeline import reuse_pretrained


MODEL_FILE = 'dec_model.npz'


def parse_overrides(items):
    """``['dec_max_iter=2000', 'kernel=distance']`` -> dict; values parsed as JSON if they can."""
    overrides = {}
    for item in items or ():
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise ValueError('override {!r} is not KEY=VALUE'.format(item))
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
        raise ValueError('--set names unknown presets: {} (PRESET.KEY=VALUE takes one of {})'
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
    from dec_chainer.validation import check_n_clusters
    config = get_config(preset, **(overrides or {}))
    X, y = load_dataset(dataset, scale=config.scale)
    if n_clusters is None:
        n_clusters = default_n_clusters(y)
    n_pre = min(config.pretrain_samples or len(X), len(X))
    n_cl = min(config.cluster_samples or len(X), len(X))
    check_n_clusters(n_clusters, n_cl)
    dims = '-'.join(str(d) for d in (X.shape[1],) + tuple(config.hidden_dims))
    batch = config.dec_batchsize or 'all {}'.format(n_cl)
    lines = [
        'data: {}, {} x {} ({}), {} clusters'.format(
            dataset, X.shape[0], X.shape[1], 'labelled' if y is not None else 'no labels',
            n_clusters),
        'autoencoder {} on {} points: layer-wise {} iterations per pair, fine-tuning {} '
        'iterations (batch {}, lr {}, {})'.format(
            dims, n_pre, config.layerwise_iters, config.finetune_iters, config.batchsize,
            config.lr, config.ae_loss),
        'k-means: {} restarts on the embedding of {} points'.format(
            config.kmeans_n_init, n_cl),
        'DEC: {} kernel, alpha {}, batch {}, lr {}, P every {} iterations, stop below {} '
        'label changes or at {} iterations'.format(
            config.kernel, config.alpha, batch, config.dec_lr, config.update_interval,
            config.tol, config.dec_max_iter),
    ]
    return '\n'.join(lines)


def run_experiment(dataset='mnist', preset='quick', overrides=None, n_clusters=None, seed=0,
                   device=-1, out=None, progress=True, log=print, argv=None, figures=True,
                   stop_after=None, pretrained=None):
    """Load ``dataset``, run DEC with ``preset`` (+ ``overrides``), return the report.

    The report (also written to ``out/metrics.json`` when ``out`` is given) holds the
    metrics and wall time of each phase, the configuration, seed, versions, machine and
    command. With ``out``, the run directory also gets the model (``dec_model.npz``,
    loadable with :meth:`dec_chainer.DEC.load`), the labels and, with ``figures``, the
    figures of :func:`write_run_figures`. ``stop_after='pretrain'`` stops after the
    autoencoder; ``pretrained=DIR`` reuses the autoencoder of the run directory ``DIR``.
    """
    config = get_config(preset, **(overrides or {}))
    origin = provenance(argv)  # the commit and command this run starts from
    t0 = time.time()
    X, y = load_dataset(dataset, scale=config.scale)
    if n_clusters is None:
        n_clusters = default_n_clusters(y)
    load_s = time.time() - t0
    log('[data] {}: {} x {}, {} clusters, preset {}, seed {}'.format(
        dataset, X.shape[0], X.shape[1], n_clusters, preset, seed))
    if pretrained is not None:
        if out is None:
            raise ValueError('reusing a pretrained autoencoder needs an output directory')
        reuse_pretrained(pretrained, out, config, seed, X)
        log('[pretrain] reusing the autoencoder of {}'.format(pretrained))
    model, report = fit_dec(X, y, n_clusters, config, out=out, device=device, seed=seed,
                            progress=progress, log=log, stop_after=stop_after)
    if pretrained is not None:
        report['pretrained_from'] = os.path.abspath(pretrained)
    report['seconds']['load'] = round(load_s, 2)
    report['seconds']['total'] = round(time.time() - t0, 2)
    report.update(dataset=dataset, preset=preset, overrides=overrides or {},
                  provenance=origin)
    if model is None:  # stopped after pretraining
        if out is not None:
            _files.write_json(os.path.join(out, 'metrics.json'), report, indent=2,
                              default=_json_default)
        return model, report
    labels = report.pop('labels')
    if out is not None:
        with _files.atomic_write(os.path.join(out, 'labels.npy'), 'wb') as f:
            numpy.save(f, labels)
        estimator = DEC.from_model(model, config, X.shape[1], seed, labels,
                                   report['dec']['iterations'], report['dec']['converged'],
                                   device=device)
        estimator.save(os.path.join(out, MODEL_FILE))
        if figures:
            n_cl = report['n_cluster']
            report['figures'] = write_run_figures(
                out, estimator, X[:n_cl], None if y is None else y[:n_cl], seed=seed)
        _files.write_json(os.path.join(out, 'metrics.json'), report, indent=2,
                          default=_json_default)
    report['labels'] = labels
    return model, report


def _read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def write_run_figures(out, estimator, X, y=None, seed=0, n_points=500):
    """The figures of a run directory, as PNG files under ``out/figures``.

    ``tsne.png``: the article's figure, t-SNE of ``n_points`` random points with the
    centroids as black triangles (coloured by true label when known, else by cluster);
    ``curves.png``: pretraining losses and the DEC phase's metrics; ``confusion.png``: the
    clusters against the classes after Hungarian matching (when labels are known).
    """
    from dec_chainer.visualizations import (tsne_with_centroids, vis_confusion,
                                            vis_dec_curves, vis_embedding, vis_loss_curves)
    from dec_chainer.visualizations._mpl import pyplot, save
    fig_dir = os.path.join(out, 'figures')
    os.makedirs(fig_dir, exist_ok=True)
    written = {}

    labels = estimator.predict(X)
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


def _json_default(o):
    if isinstance(o, numpy.generic):
        return o.item()
    return str(o)


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
