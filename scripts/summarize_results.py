#!/usr/bin/env python
"""Summarise the committed run results (results/<group>/*.json) as Markdown tables.

    .venv/bin/python scripts/summarize_results.py results/quick > results/quick/README.md

One row per run (seed, ACC/NMI/ARI after AE+k-means and after DEC, DEC iterations, wall
time per phase), then the mean and standard deviation over the runs.
"""

import glob
import json
import os
import statistics
import sys


def load(directory):
    runs = []
    for path in sorted(glob.glob(os.path.join(directory, '*.json'))):
        if path.endswith('.dec_log.json'):
            continue
        with open(path) as f:
            r = json.load(f)
        if 'metrics' in r and 'seconds' in r:
            r['_file'] = os.path.basename(path)
            runs.append(r)
    return runs


def fmt(values, digits=4):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return '{:.{}f}'.format(values[0], digits)
    return '{:.{}f} ± {:.{}f}'.format(statistics.mean(values), digits,
                                      statistics.stdev(values), digits)


def table(runs):
    head = ('| run | seed | AE+k-means ACC | DEC ACC | DEC NMI | DEC ARI | DEC iterations '
            '| pretrain (s) | k-means (s) | DEC (s) | total (s) |')
    lines = [head, '|' + '|'.join(['---'] * (head.count('|') - 1)) + '|']
    for r in runs:
        m, s = r['metrics'], r['seconds']
        lines.append('| {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {} | {:.0f} | {:.0f} | '
                     '{:.0f} | {:.0f} |'.format(
                         r['_file'][:-5], r['seed'], m['ae_kmeans']['acc'], m['dec']['acc'],
                         m['dec']['nmi'], m['dec']['ari'], r['dec']['iterations'],
                         s['pretrain'], s['kmeans'], s['dec'], s.get('total', 0)))
    if len(runs) > 1:
        col = lambda f: [f(r) for r in runs]  # noqa: E731
        lines.append('| mean ± sd | | {} | {} | {} | {} | | | | | {} |'.format(
            fmt(col(lambda r: r['metrics']['ae_kmeans']['acc'])),
            fmt(col(lambda r: r['metrics']['dec']['acc'])),
            fmt(col(lambda r: r['metrics']['dec']['nmi'])),
            fmt(col(lambda r: r['metrics']['dec']['ari'])),
            fmt(col(lambda r: r['seconds'].get('total')), 0)))
    return '\n'.join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for directory in argv or ['results/quick']:
        runs = load(directory)
        if not runs:
            print('no runs in {}'.format(directory), file=sys.stderr)
            continue
        print(table(runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
