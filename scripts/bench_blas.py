#!/usr/bin/env python
"""OpenBLAS's kernels on this CPU: each training stage's matrix products (the GEMM floor of
``bench_train_stages``) under each ``OPENBLAS_CORETYPE``, interleaved.

    .venv/bin/python scripts/bench_blas.py [--rounds 3] [--seconds 3] [--kernels Haswell Zen]

OpenBLAS picks its kernel when it loads, so each kernel runs in a fresh process; every
round runs all of them one after the other, each round starting at the next kernel, so a
drift of the machine's speed reaches them alike. Each process times ``--seconds``
one-second windows per stage. Reported: each stage's median window per kernel over all
rounds, the ``paper`` schedule's pretraining time at that
floor, and its ratio against the machine's own choice (``default``) measured in the same
round (the median of the rounds' ratios: the machine's speed drifts between rounds, and
each round's kernels ran minutes apart at most). For information only: the library never
sets the kernel, nor do the tests or CI.

Results go to --out (default results/bench) as JSON and Markdown.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import _bench


def child(seconds):
    """Time every stage's matrix products in this process; print JSON."""
    from dec_chainer.provenance import environment
    out = {'blas': environment()['blas'], 'stages': []}
    for sizes in _bench.stage_sizes():
        step = _bench.gemm_floor(sizes)
        windows = [1e3 * _bench.seconds_per_call(step, seconds=1.0, warmup=3 * (not i))
                   for i in range(seconds)]
        out['stages'].append({'sizes': list(sizes), 'ms': windows})
    print(json.dumps(out))


def run_kernel(kernel, seconds):
    env = dict(os.environ)
    env.pop('OPENBLAS_CORETYPE', None)
    if kernel != 'default':
        env['OPENBLAS_CORETYPE'] = kernel
    res = subprocess.run([sys.executable, os.path.abspath(__file__), '--child',
                          '--seconds', str(seconds)], env=env, check=True,
                         stdout=subprocess.PIPE, universal_newlines=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--seconds', type=int, default=3,
                    help='one-second windows per stage, kernel and round')
    ap.add_argument('--kernels', nargs='+', default=['SkylakeX', 'Haswell', 'Zen'],
                    help="OPENBLAS_CORETYPE values besides the machine's own choice")
    ap.add_argument('--out', default='results/bench')
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.seconds)
    from dec_chainer.presets import PAPER
    from dec_chainer.reporting import format_table
    prov = _bench.run_provenance('bench_blas.py', argv)
    kernels = ['default'] + [k for k in args.kernels if k != 'default']
    runs = {k: [] for k in kernels}  # each round's child result
    for r in range(args.rounds):
        for k in kernels[r % len(kernels):] + kernels[:r % len(kernels)]:  # rotated
            runs[k].append(run_kernel(k, args.seconds))
            print('round {} {}: {}'.format(r + 1, k, ' '.join('{:.2f}'.format(
                statistics.median(s['ms'])) for s in runs[k][-1]['stages'])), flush=True)
    names = ['-'.join(map(str, s['sizes'])) for s in runs['default'][0]['stages']]
    # per kernel: each stage's windows over all rounds, and each round's stage medians
    windows = {k: [sum((res['stages'][i]['ms'] for res in runs[k]), [])
                   for i in range(len(names))] for k in kernels}
    per_round = {k: [[statistics.median(s['ms']) for s in res['stages']] for res in runs[k]]
                 for k in kernels}
    iters = [PAPER.layerwise_iters] * (len(names) - 1) + [PAPER.finetune_iters]
    minutes = lambda med: sum(m * n for m, n in zip(med, iters)) / 6e4  # noqa: E731
    rows = []
    for k in kernels:
        med = [statistics.median(w) for w in windows[k]]
        ratios = [minutes(a) / minutes(b) for a, b in zip(per_round[k], per_round['default'])]
        arch = ', '.join(b['architecture'] for b in runs[k][0]['blas'])
        rows.append(dict({'kernel': k, 'architecture': arch, 'minutes': minutes(med),
                          'ratio': statistics.median(ratios), 'ratio_min': min(ratios),
                          'ratio_max': max(ratios)},
                         **{'s{}'.format(i): m for i, m in enumerate(med)}))
    columns = [('kernel', 'OPENBLAS_CORETYPE'), ('architecture', 'kernel loaded')]
    columns += [('s{}'.format(i), name + ' (ms)', '{:.2f}') for i, name in enumerate(names)]
    columns += [('minutes', 'paper floor (min)', '{:.1f}'), ('ratio', 'x default', '{:.3f}'),
                ('ratio_min', 'min', '{:.3f}'), ('ratio_max', 'max', '{:.3f}')]
    table = format_table(rows, columns)
    print(table)
    _bench.write_result(
        args.out, 'bench_blas', {'rows': rows, 'stages': names, 'windows': windows,
                                 'per_round': per_round, 'rounds': args.rounds,
                                 'seconds': args.seconds},
        "bench_blas: each stage's matrix products (batch 256) under OpenBLAS's kernels",
        '```\n{}\n```\n\n- the median of {} one-second windows per stage and kernel ({} '
        'rounds, the kernels interleaved, each in a fresh process); `paper floor`: the paper '
        'schedule\'s pretraining ({} x {:,} + {:,} iterations) at those speeds; `x default`: '
        'the median over the rounds of that floor against the default kernel\'s in the same '
        'round (min, max: the rounds\' extremes)'.format(table, args.rounds * args.seconds, args.rounds,
                                       len(names) - 1, PAPER.layerwise_iters,
                                       PAPER.finetune_iters), prov)
    return 0


if __name__ == '__main__':
    sys.exit(main())
