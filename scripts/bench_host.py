#!/usr/bin/env python
"""How steady this machine's speed is: the same fixed work, timed again and again.

    .venv/bin/python scripts/bench_host.py [--minutes 5] [--every 5]

Every ``--every`` seconds for ``--minutes``, two probes, one after the other:
  * gemm: one fine-tuning iteration's matrix products (the GEMM floor of
    ``bench_train``: 784-500-500-2000-10-2000-500-500-784, batch 256, on every core
    OpenBLAS uses), the mean over a 0.5 s window;
  * scalar: a fixed pure-Python loop on one core (no arrays, no memory traffic), the mean
    of 5 runs.
Each probe's time is reported against its own fastest window in the same run (1.00 = the
fastest the machine did that work). Run it on idle cores: when both probes slow down
together, the machine itself (its clock, or a shared host's other tenants) sets the pace,
not the library, and a long run's wall time moves with it; ``bench_train`` reports the
fastest of its repeats, so it shows the machine at its best.

Results go to --out (default results/bench) as JSON and Markdown.
"""

import argparse
import statistics
import sys
import time

import _bench


def scalar_loop(n=200000):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def spread(values):
    lo = min(values)
    return {'fastest': lo, 'median': statistics.median(values), 'slowest': max(values),
            'median_x': statistics.median(values) / lo, 'slowest_x': max(values) / lo}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--minutes', type=float, default=5.0)
    ap.add_argument('--every', type=float, default=5.0, help='seconds between samples')
    ap.add_argument('--out', default='results/bench')
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.every <= 0:
        ap.error('--minutes and --every must be positive')

    from dec_chainer.reporting import format_table
    prov = _bench.run_provenance('bench_host.py', argv)
    gemm = _bench.gemm_floor(_bench.stage_sizes()[-1])  # fine-tuning
    _bench.seconds_per_call(gemm, repeats=3)
    samples, t0 = [], time.time()
    while time.time() - t0 < 60 * args.minutes:
        tick = time.time()
        samples.append({'t': round(tick - t0, 1),
                        'gemm': 1e3 * _bench.seconds_per_call(gemm, seconds=0.5),
                        'scalar': 1e3 * _bench.seconds_per_call(scalar_loop, repeats=5)})
        print('{:7.1f} s  gemm {:6.2f} ms  scalar {:6.2f} ms'.format(
            samples[-1]['t'], samples[-1]['gemm'], samples[-1]['scalar']), flush=True)
        time.sleep(max(0.0, args.every - (time.time() - tick)))

    rows = [dict(probe=p, **spread([s[p] for s in samples])) for p in ('gemm', 'scalar')]
    gx = [s['gemm'] / rows[0]['fastest'] for s in samples]
    sx = [s['scalar'] / rows[1]['fastest'] for s in samples]
    try:
        corr = statistics.correlation(gx, sx)
    except statistics.StatisticsError:  # fewer than 2 samples, or a probe that never moved
        corr = None
    table = format_table(rows, [
        ('probe', 'probe'), ('fastest', 'fastest (ms)', '{:.2f}'),
        ('median', 'median (ms)', '{:.2f}'), ('slowest', 'slowest (ms)', '{:.2f}'),
        ('median_x', 'median x fastest', '{:.2f}'), ('slowest_x', 'slowest x fastest', '{:.2f}')])
    line = ('{} samples over {:.1f} min; correlation of the two probes\' slowdowns: {}'.format(
        len(samples), samples[-1]['t'] / 60, 'n/a' if corr is None else '{:.2f}'.format(corr)))
    print(table)
    print(line)
    _bench.write_result(
        args.out, 'bench_host', {'rows': rows, 'samples': samples, 'correlation': corr},
        'bench_host: the same work, timed every {:g} s on idle cores'.format(args.every),
        '```\n{}\n```\n\n- {}\n- gemm: one fine-tuning iteration\'s matrix products (the mean '
        'over a 0.5 s window); scalar: a pure-Python loop on one core (the mean of 5); each '
        'against its own fastest sample in this run'.format(table, line), prov)
    return 0


if __name__ == '__main__':
    sys.exit(main())
