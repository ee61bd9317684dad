#!/usr/bin/env python
"""The paper's Table 4: k-means, AE+k-means and DEC on imbalanced subsets of MNIST.

    .venv/bin/python scripts/run_imbalance.py [--preset quick] [--r-min 0.1 0.3 0.5 0.7 0.9]

Each subset keeps a digit of class k with probability r_min + (1 - r_min) k / 9
(``dec_chainer.datasets.imbalanced_subset``, seeded by --seed): class 0 with r_min, class 9
with 1. Per subset: k-means on its pixels (10 restarts), then a whole run of --preset on it
(pretraining on the subset, as the paper does; the ``quick`` preset by default, since the
paper's full schedule takes two hours per subset on 2 CPU cores). The subsets are written
to OUT/<dataset>-rmin<r>.npz, the runs to OUT/rmin<r>/ (a killed run resumes), the table to
RESULTS/imbalance-<preset>-seed<seed>.{json,md} after every subset. Rows of that table for
other r_min values and the same data set, seed, preset and overrides are kept, so subsets
can be run by separate commands; every row carries the provenance of the command that made
it.
"""

import argparse
import json
import os
import sys
import time

import numpy

from dec_chainer.cli import device_type
from dec_chainer.datasets import imbalanced_subset, load_dataset
from dec_chainer.evaluations import eval_clustering
from dec_chainer.experiment import parse_overrides, run_experiment, run_row
from dec_chainer.kmeans import kmeans
from dec_chainer.presets import get_config
from dec_chainer.provenance import provenance
from dec_chainer.reporting import write_tables
from dec_chainer.training import RunContext

COLUMNS = [('r_min', 'r_min'), ('n', 'points'), ('smallest', 'smallest class'),
           ('largest', 'largest class'), ('kmeans_acc', 'k-means ACC'),
           ('ae_acc', 'AE+k-means ACC'), ('acc', 'DEC ACC'), ('nmi', 'DEC NMI'),
           ('iterations', 'DEC iterations'), ('seconds', 'run (s)', '{:.0f}')]


def subset(X, y, r_min, seed, path):
    """The subset's file (written once): its rows of ``X`` and ``y``."""
    if not os.path.exists(path):
        rows = imbalanced_subset(y, r_min, seed)
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        numpy.savez(path[:-len('.npz')] + '.tmp.npz', X=X[rows], y=y[rows])
        os.replace(path[:-len('.npz')] + '.tmp.npz', path)
    return path


def earlier_rows(path, settings, r_min):
    """The rows of the table at ``path`` made with ``settings`` for other r_min values than
    ``r_min``, each with its command's provenance (none if there is no such table)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        page = json.load(f)
    settings = json.loads(json.dumps(settings))  # as the page holds them: tuples as lists
    if any(page.get(key) != value for key, value in settings.items()):
        return []
    return [dict(row, provenance=row.get('provenance', page['provenance']))
            for row in page['rows'] if row['r_min'] not in r_min]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='quick')
    p.add_argument('--r-min', type=float, nargs='+', default=[0.1, 0.3, 0.5, 0.7, 0.9])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    p.add_argument('--device', default='-1', type=device_type)
    p.add_argument('--out', default='runs/imbalance')
    p.add_argument('--results', default='results/imbalance')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    overrides = parse_overrides(args.set)
    config = get_config(args.preset, **overrides)
    command = ['python', 'scripts/run_imbalance.py'] + list(
        sys.argv[1:] if argv is None else argv)
    context = RunContext(args.device, progress=not args.no_progress, command=command,
                         figures=False)
    X, y = load_dataset(args.dataset, scale=config.scale)
    stem = os.path.join(args.results, 'imbalance-{}-seed{}'.format(args.preset, args.seed))
    settings = {'dataset': args.dataset, 'seed': args.seed, 'preset': args.preset,
                'overrides': overrides}
    rows, t0, prov = earlier_rows(stem + '.json', settings, args.r_min), time.time(), \
        provenance(command)
    for r in args.r_min:
        data = subset(X, y, r, args.seed, os.path.join(args.out, '{}-rmin{:g}.npz'.format(
            args.dataset, r)))
        Xs, ys = load_dataset(data)
        counts = numpy.bincount(ys, minlength=10)
        _, km, _ = kmeans(Xs, 10, n_init=10, random_state=args.seed)
        _, report = run_experiment(data, args.preset, overrides, 10, args.seed,
                                   os.path.join(args.out, 'rmin{:g}'.format(r)), context)
        rows.append(dict(run_row(report), r_min=r, n=len(ys), smallest=int(counts.min()),
                         largest=int(counts.max()), provenance=prov,
                         kmeans_acc=eval_clustering(ys, km)['acc']))
        rows.sort(key=lambda row: row['r_min'])
        print(write_tables(stem, rows, COLUMNS, dict(
            settings, pretraining='the {} preset on each subset'.format(args.preset),
            provenance=prov, wall_seconds=round(time.time() - t0, 1))), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
