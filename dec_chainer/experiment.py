"""One DEC experiment on a named data set or file: what ``dec-chainer train`` runs."""

import json
import os
import time

import numpy

from dec_chainer.datasets import load_dataset
from dec_chainer.presets import get_config
from dec_chainer.provenance import provenance
from dec_chainer.reporting import format_table
from dec_chainer.training import fit_dec


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


def run_experiment(dataset='mnist', preset='quick', overrides=None, n_clusters=None, seed=0,
                   device=-1, out=None, progress=True, log=print, argv=None):
    """Load ``dataset``, run DEC with ``preset`` (+ ``overrides``), return the report.

    The report (also written to ``out/metrics.json`` when ``out`` is given) holds the
    metrics and wall time of each phase, the configuration, seed, versions, machine and
    command.
    """
    config = get_config(preset, **(overrides or {}))
    origin = provenance(argv)  # the commit and command this run starts from
    t0 = time.time()
    X, y = load_dataset(dataset, scale=config.scale)
    if n_clusters is None:
        n_clusters = int(numpy.unique(y).size) if y is not None else 10
    load_s = time.time() - t0
    log('[data] {}: {} x {}, {} clusters, preset {}, seed {}'.format(
        dataset, X.shape[0], X.shape[1], n_clusters, preset, seed))
    model, report = fit_dec(X, y, n_clusters, config, out=out, device=device, seed=seed,
                            progress=progress, log=log)
    report['seconds']['load'] = round(load_s, 2)
    report['seconds']['total'] = round(time.time() - t0, 2)
    report.update(dataset=dataset, preset=preset, overrides=overrides or {},
                  provenance=origin)
    labels = report.pop('labels')
    if out is not None:
        numpy.save(os.path.join(out, 'labels.npy'), labels)
        with open(os.path.join(out, 'metrics.json'), 'w') as f:
            json.dump(report, f, indent=2, default=_json_default)
    report['labels'] = labels
    return model, report


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
