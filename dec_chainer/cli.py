"""The ``dec-chainer`` command-line tool."""

import argparse
import json
import platform
import sys
import time

import numpy

import dec_chainer
from dec_chainer import _compat


def version_string():
    import chainer
    return 'dec-chainer {} (chainer {}, numpy {}, python {}; compat patches: {})'.format(
        dec_chainer.__version__, chainer.__version__, numpy.__version__,
        platform.python_version(), ', '.join(_compat.APPLIED) or 'none')


class _VersionAction(argparse.Action):
    """Like argparse's 'version' action, without re-wrapping the line."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help='print the versions of dec-chainer, Chainer, NumPy and Python'):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_string())
        parser.exit()


def _add_baseline(sub):
    p = sub.add_parser(
        'baseline', help='k-means on the raw features of a data set (ACC/NMI/ARI table)',
        description='k-means (k-means++, best of --n-init restarts) on the raw features.')
    p.add_argument('--dataset', default='mnist',
                   help='mnist, fashion-mnist, digits, or a .npy/.npz/.csv file '
                        '(default: mnist, all 70,000 digits)')
    p.add_argument('--clusters', type=int, default=None,
                   help='number of clusters (default: number of classes, else 10)')
    p.add_argument('--n-init', type=int, default=10, help='k-means restarts (default 10)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    p.add_argument('--out', default=None, help='also write the metrics as JSON to this file')
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.set_defaults(func=_run_baseline)


def _run_baseline(args):
    from dec_chainer.datasets import load_dataset
    from dec_chainer.evaluations import eval_clustering
    from dec_chainer.kmeans import kmeans
    from dec_chainer.reporting import format_table

    t0 = time.time()
    X, y = load_dataset(args.dataset)
    n_clusters = args.clusters
    if n_clusters is None:
        n_clusters = int(numpy.unique(y).size) if y is not None else 10
    print('{}: {} samples x {} features, {} clusters, {} k-means restarts, seed {}'.format(
        args.dataset, X.shape[0], X.shape[1], n_clusters, args.n_init, args.seed),
        flush=True)
    t1 = time.time()
    _, labels, inertia = kmeans(X, n_clusters, n_init=args.n_init, random_state=args.seed,
                                progress=not args.no_progress)
    t2 = time.time()
    row = {'method': 'k-means (raw features)', 'inertia': inertia,
           'load_s': round(t1 - t0, 2), 'kmeans_s': round(t2 - t1, 2)}
    if y is not None:
        row.update(eval_clustering(y, labels))
    columns = [('method', 'method'), ('acc', 'ACC'), ('nmi', 'NMI'), ('ari', 'ARI'),
               ('kmeans_s', 'time (s)', '{:.1f}')]
    print()
    print(format_table([row], columns))
    if args.dataset == 'mnist':
        print('\npublished: k-means on MNIST pixels ACC 0.5349 (Xie et al., 2016)')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(row, dataset=args.dataset, n_samples=int(X.shape[0]),
                           n_clusters=n_clusters, n_init=args.n_init, seed=args.seed,
                           version=version_string()), f, indent=2)
    return 0


def _device(spec):
    """Chainer device spec: -1, 0, '@numpy', '@cupy:0'."""
    return int(spec) if spec.lstrip('-').isdigit() else spec


def _add_train(sub):
    from dec_chainer.presets import PRESETS
    p = sub.add_parser(
        'train', help='the whole DEC pipeline: pretraining, k-means, DEC',
        description='Pretrain the stacked autoencoder, initialise the centroids with '
                    'k-means and train DEC; print ACC/NMI/ARI per phase when labels are '
                    'known. A run killed midway resumes when started again with the same '
                    '--out.')
    p.add_argument('--dataset', default='mnist',
                   help='mnist, fashion-mnist, digits, or a .npy/.npz/.csv file')
    p.add_argument('--preset', default='quick', choices=sorted(PRESETS))
    p.add_argument('--clusters', type=int, default=None,
                   help='number of clusters (default: number of classes, else 10)')
    p.add_argument('--seed', type=int, default=0, help='the one seed of the run')
    p.add_argument('--device', default='-1', type=_device,
                   help='-1 or @numpy (CPU), 0 or @cupy:0 (GPU)')
    p.add_argument('--out', default=None,
                   help='run directory: snapshots, logs, model, metrics.json (default: '
                        'runs/<preset>-<dataset>-seed<seed>)')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override preset values, e.g. dec_max_iter=2000 kernel=distance')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.set_defaults(func=_run_train)


def _run_train(args):
    import os
    from dec_chainer.experiment import parse_overrides, results_table, run_experiment
    overrides = parse_overrides(args.set)
    out = args.out or os.path.join('runs', '{}-{}-seed{}'.format(
        args.preset, os.path.basename(str(args.dataset)), args.seed))
    _, report = run_experiment(args.dataset, args.preset, overrides, args.clusters,
                               args.seed, args.device, out, not args.no_progress,
                               argv=['dec-chainer'] + args.argv)
    print()
    print(results_table(report))
    if args.dataset == 'mnist':
        print('\npublished (MNIST ACC): k-means 0.5349, AE+k-means 0.8184, DEC 0.8430 '
              '(Xie et al., 2016); DEC-keras mean of 10 runs 0.912')
    print('total {:.0f} s; results in {}'.format(report['seconds']['total'],
                                                 os.path.join(out, 'metrics.json')))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog='dec-chainer',
        description='Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on '
                    'Chainer 7.8.1.')
    parser.add_argument('--version', action=_VersionAction)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    _add_train(sub)
    _add_baseline(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print('dec-chainer {}: error: {}'.format(args.command, e), file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
