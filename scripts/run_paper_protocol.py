#!/usr/bin/env python
"""The paper's MNIST protocol on one pretrained autoencoder: only the DEC phase runs.

    .venv/bin/python scripts/run_paper_protocol.py lambda
    .venv/bin/python scripts/run_paper_protocol.py seeds     # after lambda (its best)
    .venv/bin/python scripts/run_paper_protocol.py frozen

``lambda``: DEC for the nine update intervals lambda = 10 * 2^i, i = 0..8 (the paper
reports the best of them, 84.30 %, and calls lambda = 40 near-optimal); the table gives each
one's ACC/NMI/ARI, iterations and time, then the best of nine and the mean. ``seeds``: five
k-means starts (``cluster_seed`` 0..4) at lambda = 160 and at the best lambda of the
``lambda`` table: mean and sd. ``frozen``: DEC without backpropagation (``dec_encoder=
frozen``: only the centroids move; the paper's Table 2: 79.82 %) at lambda = 160.

Every job reuses the autoencoder of ``--pretrained`` (default: the shipped
``results/pretrained/paper-mnist-seed0``, the ``paper`` preset's full pretraining), refused
if its digests, settings or data differ. Runs go to ``--out/<part>/<job>``; the tables to
``--results/<part>.json`` and ``.md`` (rewritten after each job; a killed part resumes
where it stopped when started again). ``--set KEY=VALUE`` applies to every job (e.g. a
shorter ``dec_max_iter`` for a trial).
"""

import argparse
import json
import os
import statistics
import sys

from dec_chainer.cli import device_type
from dec_chainer.datasets import load_dataset
from dec_chainer.errors import UserError
from dec_chainer.experiment import Job, parse_overrides, run_many
from dec_chainer.presets import get_config
from dec_chainer.reporting import PUBLISHED_MNIST, format_table, machine_line, write_page
from dec_chainer.runs import check_pretrained
from dec_chainer.training import RunContext

LAMBDAS = [10 * 2 ** i for i in range(9)]
COLUMNS = [('name', 'job'), ('lambda', 'lambda'), ('cluster_seed', 'k-means start'),
           ('ae_acc', 'AE+k-means ACC'), ('acc', 'DEC ACC'), ('nmi', 'NMI'), ('ari', 'ARI'),
           ('iterations', 'DEC iterations'), ('dec_s', 'DEC (s)', '{:.0f}')]


def jobs_of(part, results):
    if part == 'lambda':
        return [Job('lambda{}'.format(lam), 'paper', {'update_interval': lam},
                    {'lambda': lam, 'cluster_seed': 0}) for lam in LAMBDAS]
    if part == 'frozen':
        return [Job('frozen', 'paper', {'dec_encoder': 'frozen'},
                    {'lambda': 160, 'cluster_seed': 0})]
    best = best_lambda(results)
    return [Job('lambda{}-start{}'.format(lam, s), 'paper',
                {'update_interval': lam, 'cluster_seed': s}, {'lambda': lam, 'cluster_seed': s})
            for lam in sorted({160, best}) for s in range(5)]


def best_lambda(results):
    path = os.path.join(results, 'lambda.json')
    if not os.path.exists(path):
        raise SystemExit('run_paper_protocol: error: {} is missing: run the lambda part '
                         'first'.format(path))
    with open(path) as f:
        return max(json.load(f)['rows'], key=lambda r: r['acc'])['lambda']


def summary(part, rows):
    """The lines under a part's table: what the paper reports, and ours the same way."""
    def stats(values):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return '{:.4f} +- {:.4f} (n = {})'.format(statistics.mean(values), sd, len(values))
    acc = [r['acc'] for r in rows]
    if part == 'lambda':
        best = max(rows, key=lambda r: r['acc'])
        return ['best of {}: ACC {:.4f} at lambda = {} (the paper: {:.4f}, best of 9)'.format(
            len(rows), best['acc'], best['lambda'], PUBLISHED_MNIST['dec'][0]),
            'mean of {}: ACC {}'.format(len(rows), stats(acc))]
    if part == 'frozen':
        return ['DEC without backpropagation: ACC {:.4f} (the paper: {:.4f}); AE+k-means '
                '{:.4f}'.format(acc[0], PUBLISHED_MNIST['dec_no_backprop'][0],
                                rows[0]['ae_acc'])]
    return ['lambda = {}: DEC ACC {}; AE+k-means ACC {}'.format(
        lam, stats([r['acc'] for r in rows if r['lambda'] == lam]),
        stats([r['ae_acc'] for r in rows if r['lambda'] == lam]))
        for lam in sorted({r['lambda'] for r in rows})]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('part', choices=('lambda', 'seeds', 'frozen'))
    p.add_argument('--pretrained', default='results/pretrained/paper-mnist-seed0')
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--out', default='runs/paper-protocol')
    p.add_argument('--results', default='results/paper/protocol')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    p.add_argument('--device', default='-1', type=device_type)
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    try:
        return run(args, argv)
    except UserError as e:  # a missing or mismatched autoencoder, a bad setting
        print('run_paper_protocol: error: {}'.format(e), file=sys.stderr)
        return 2


def run(args, argv):
    jobs = [job._replace(overrides=dict(job.overrides, **parse_overrides(args.set)))
            for job in jobs_of(args.part, args.results)]
    config = get_config('paper', **jobs[0].overrides)
    check_pretrained(args.pretrained, config, 0, load_dataset(args.dataset, config.scale)[0])
    context = RunContext(args.device, progress=not args.no_progress, command=[
        'python', 'scripts/run_paper_protocol.py'] + list(sys.argv[1:] if argv is None else argv))
    stem = os.path.join(args.results, args.part)
    rows = run_many(jobs, args.dataset, 0, os.path.join(args.out, args.part), stem, COLUMNS,
                    context=context, pretrained=[args.pretrained])
    with open(stem + '.json') as f:
        page = json.load(f)
    lines = summary(args.part, rows)
    write_page(stem, dict(page, summary=lines), '# The paper\'s protocol: {}\n\n{}\n\n'
               'command: `{}`, seed 0, {:.0f} s of wall time\n\n```\n{}\n```\n\n{}'.format(
                   args.part, machine_line(page['provenance']), ' '.join(context.command),
                   page['wall_seconds'], format_table(rows, COLUMNS),
                   '\n'.join('- ' + line for line in lines)))
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
