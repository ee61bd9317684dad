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
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def scalar_loop(n=200000):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def mean_ms(fn, seconds=None, repeats=None):
    """The mean time of ``repeats`` calls, or of the calls that fit in ``seconds``, in ms."""
    start, n = time.perf_counter(), 0
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if (repeats is not None and n >= repeats) or (seconds is not None and elapsed >= seconds):
            return 1e3 * elapsed / n


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

    import bench_train
    from dec_chainer import _files
    from dec_chainer.provenance import provenance
    from dec_chainer.reporting import format_table, machine_line

    gemm = bench_train.stage_gemm_floor_factory(bench_train.stage_sizes()[-1])  # fine-tuning
    for _ in range(3):
        gemm()
    samples, t0 = [], time.time()
    while time.time() - t0 < 60 * args.minutes:
        tick = time.time()
        samples.append({'t': round(tick - t0, 1), 'gemm': mean_ms(gemm, seconds=0.5),
                        'scalar': mean_ms(scalar_loop, repeats=5)})
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
    prov = provenance(['python', 'scripts/bench_host.py'] + (argv or sys.argv[1:]))
    os.makedirs(args.out, exist_ok=True)
    _files.write_json(os.path.join(args.out, 'bench_host.json'), {
        'rows': rows, 'samples': samples, 'correlation': corr, 'provenance': prov})
    with _files.atomic_write(os.path.join(args.out, 'bench_host.md')) as f:
        f.write('# bench_host: the same work, timed every {:g} s on idle cores\n\n{}\n\n```\n{}\n'
                '```\n\n- {}\n- gemm: one fine-tuning iteration\'s matrix products (the '
                'mean over a 0.5 s window); scalar: a pure-Python loop on one core (the '
                'mean of 5); each against its own fastest sample in this run\n'.format(
                    args.every, machine_line(prov), table, line))
    return 0


if __name__ == '__main__':
    sys.exit(main())
