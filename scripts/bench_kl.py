#!/usr/bin/env python
"""Benchmark DEC's loss (forward + backward) and the whole-data-set P computation.

    .venv/bin/python scripts/bench_kl.py                 # CPU
    python3 scripts/bench_kl.py --device 0               # also the GPU rows

Rows, each timed in this run (best of --repeat):
  * article: the original repository's approach, re-implemented here for measurement:
    every (point, centroid) pair materialised by stacking repeated rows into (n*K, d)
    matrices, distances by ``linalg.norm``, an (n, K, d) tensor in the backward;
  * numpy: dec_chainer's CPU path (GEMM form, log-space q), through Chainer;
  * cupy-unfused: the same maths as dec_chainer in plain CuPy array operations (GPU);
  * cupy-fused: dec_chainer's GPU path (fused ElementwiseKernel/ReductionKernel) (GPU).
Ratios are against the article's approach (CPU) and against cupy-unfused (GPU). Also the
peak host memory of P over 1,000,000 points computed in batches through an encoder.
Writes JSON and a Markdown table to --out (default results/bench).
"""

import argparse
import itertools
import os
import sys
import time
import tracemalloc

import numpy

import dec_chainer  # before chainer: makes Chainer 7.8.1 work on NumPy 2
import chainer
from dec_chainer import target_distribution
from dec_chainer.functions import dec_kl_divergence, target_distribution_batches
from dec_chainer.links import soft_assignment_batches
from dec_chainer.reporting import format_table

import _bench
from _bench import fastest_call

K, D = 10, 10


# -- the article's approach (re-implemented for measurement) -----------------------------

def _article_pairs(z, mu):
    n, k = len(z), len(mu)
    rows = numpy.vstack(list(itertools.chain.from_iterable(
        itertools.repeat(v, k) for v in z)))
    cents = numpy.vstack(list(itertools.repeat(mu, n)))
    return rows - cents


def _article_q(dist):
    kern = 1.0 / (1.0 + dist)
    return kern / kern.sum(axis=1, keepdims=True)


def _article_p(q):
    w = q ** 2 / q.sum(axis=0)
    return w / w.sum(axis=1, keepdims=True)


def article_step(z, mu):
    n, k = len(z), len(mu)
    diff = _article_pairs(z, mu)                                   # (n*K, d)
    dist = numpy.linalg.norm(diff, axis=1).reshape(n, k)
    q = _article_q(dist)
    p = _article_p(q)
    loss = (p * (numpy.log(p) - numpy.log(q))).sum()
    # backward: recomputed, with the (n, K, d) tensor of differences
    diff = _article_pairs(z, mu).reshape(n, k, z.shape[1])
    dist = numpy.linalg.norm(diff.reshape(n * k, -1), axis=1).reshape(n, k)
    q = _article_q(dist)
    p = _article_p(q)
    w = (p - q) / (1.0 + dist)
    gz = 2 * (w[:, :, None] * diff).sum(axis=1) / n
    gmu = -2 * (w[:, :, None] * diff).sum(axis=0) / n
    return loss, gz, gmu


def article_p(z, mu):
    n, k = len(z), len(mu)
    dist = numpy.linalg.norm(_article_pairs(z, mu), axis=1).reshape(n, k)
    return _article_p(_article_q(dist))


# -- dec_chainer ---------------------------------------------------------------------------

def ours_step(z, mu, p):
    zv, mv = chainer.Variable(z), chainer.Variable(mu)
    loss = dec_kl_divergence(zv, mv, p)
    loss.backward()
    return loss.array, zv.grad, mv.grad


def ours_p(z, mu):
    from dec_chainer.functions import soft_assignment
    return target_distribution(soft_assignment(z, mu).array)


# -- the same maths in plain CuPy (unfused) ------------------------------------------------

def unfused_log_q(cp, z, mu, alpha=1.0):
    d = (z * z).sum(1)[:, None] + (mu * mu).sum(1)[None, :] - 2 * z @ mu.T
    d = cp.maximum(d, 0)
    logk = -(alpha + 1) / 2 * cp.log1p(d / alpha)
    m = logk.max(axis=1, keepdims=True)
    logq = logk - (m + cp.log(cp.exp(logk - m).sum(axis=1, keepdims=True)))
    return logq, d


def unfused_step(cp, z, mu, p, alpha=1.0):
    logq, d = unfused_log_q(cp, z, mu, alpha)
    logp = cp.where(p > 0, cp.log(cp.where(p > 0, p, 1)), 0)
    loss = (p * (logp - logq)).sum() / len(z)
    s = p.sum(axis=1, keepdims=True)
    A = (alpha + 1) / alpha * (p - s * cp.exp(logq)) / (1 + d / alpha) / len(z)
    gz = A.sum(1)[:, None] * z - A @ mu
    gmu = A.sum(0)[:, None] * mu - A.T @ z
    return loss, gz, gmu


def unfused_p(cp, z, mu):
    q = cp.exp(unfused_log_q(cp, z, mu)[0])
    w = q * q / cp.maximum(q.sum(axis=0), 1e-38)
    return w / w.sum(axis=1, keepdims=True)


def peak_memory_million(batchsize=8192, n=1000000, width=500):
    rng = numpy.random.RandomState(0)
    X = rng.rand(n, 8).astype(numpy.float32)
    l1, l2 = chainer.links.Linear(8, width), chainer.links.Linear(width, D)

    def encode(x):
        return l2(chainer.functions.relu(l1(x)))

    cents = rng.randn(K, D).astype(numpy.float32)
    tracemalloc.start()
    t = time.perf_counter()
    p = target_distribution_batches(
        soft_assignment_batches(encode, X, cents, batchsize=batchsize),
        numpy.empty((n, K), numpy.float32))
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {'n': n, 'encoder': '8-{}-{}'.format(width, D), 'batchsize': batchsize,
            'peak_mib': round(peak / 2 ** 20, 1), 'seconds': round(seconds, 2),
            'all_at_once_hidden_mib': round(n * width * 4 / 2 ** 20, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', type=int, nargs='+', default=[256, 10000, 70000])
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--device', default='-1', help='-1: CPU only; 0: also the GPU rows')
    ap.add_argument('--out', default='results/bench')
    ap.add_argument('--no-memory', action='store_true')
    args = ap.parse_args(argv)
    gpu = args.device not in ('-1', '@numpy')
    prov = _bench.run_provenance('bench_kl.py', argv)

    rows = []
    rng = numpy.random.RandomState(0)
    for n in args.sizes:
        z = (rng.randn(n, D) * 3).astype(numpy.float32)
        mu = (rng.randn(K, D) * 3).astype(numpy.float32)
        p = ours_p(z, mu)
        budget = 60.0
        t_art = fastest_call(lambda: article_step(z, mu), args.repeat, budget=budget)
        t_ours = fastest_call(lambda: ours_step(z, mu, p), args.repeat)
        t_art_p = fastest_call(lambda: article_p(z, mu), args.repeat, budget=budget)
        t_ours_p = fastest_call(lambda: ours_p(z, mu), args.repeat)
        rows.append({'n': n, 'what': 'loss fwd+bwd', 'article_ms': 1e3 * t_art,
                     'numpy_ms': 1e3 * t_ours, 'speedup': t_art / t_ours})
        rows.append({'n': n, 'what': 'P (whole set)', 'article_ms': 1e3 * t_art_p,
                     'numpy_ms': 1e3 * t_ours_p, 'speedup': t_art_p / t_ours_p})
        # the two agree (the article's kernel is the distance one: compare ours with it)
        from dec_chainer.functions import soft_assignment
        q_dist = soft_assignment(z, mu, kernel='distance').array
        numpy.testing.assert_allclose(target_distribution(q_dist), article_p(z, mu),
                                      rtol=1e-3, atol=1e-6)
        print('n={:6d}  loss: article {:9.2f} ms, numpy {:7.2f} ms ({:6.0f}x)   '
              'P: article {:9.2f} ms, numpy {:7.2f} ms ({:6.0f}x)'.format(
                  n, 1e3 * t_art, 1e3 * t_ours, t_art / t_ours, 1e3 * t_art_p,
                  1e3 * t_ours_p, t_art_p / t_ours_p), flush=True)

    gpu_rows = []
    if gpu:
        import cupy as cp
        sync = cp.cuda.Device().synchronize
        for n in args.sizes + [1000000]:
            z = cp.asarray((rng.randn(n, D) * 3).astype(numpy.float32))
            mu = cp.asarray((rng.randn(K, D) * 3).astype(numpy.float32))
            p = ours_p(z, mu)
            for fn in (lambda: ours_step(z, mu, p), lambda: unfused_step(cp, z, mu, p),
                       lambda: ours_p(z, mu), lambda: unfused_p(cp, z, mu)):
                fn()  # compile and warm up
            sync()
            rep = max(args.repeat, 20)
            t_f = fastest_call(lambda: ours_step(z, mu, p), rep, sync)
            t_u = fastest_call(lambda: unfused_step(cp, z, mu, p), rep, sync)
            t_fp = fastest_call(lambda: ours_p(z, mu), rep, sync)
            t_up = fastest_call(lambda: unfused_p(cp, z, mu), rep, sync)
            gpu_rows.append({'n': n, 'what': 'loss fwd+bwd', 'unfused_ms': 1e3 * t_u,
                             'fused_ms': 1e3 * t_f, 'speedup': t_u / t_f})
            gpu_rows.append({'n': n, 'what': 'P (whole set)', 'unfused_ms': 1e3 * t_up,
                             'fused_ms': 1e3 * t_fp, 'speedup': t_up / t_fp})
            print('GPU n={:7d}  loss: unfused {:.3f} ms, fused {:.3f} ms ({:.1f}x)   '
                  'P: unfused {:.3f} ms, fused {:.3f} ms ({:.1f}x)'.format(
                      n, 1e3 * t_u, 1e3 * t_f, t_u / t_f, 1e3 * t_up, 1e3 * t_fp,
                      t_up / t_fp), flush=True)

    memory = None if args.no_memory else peak_memory_million()
    if memory:
        print('P over {n} points in batches of {batchsize}: peak {peak_mib} MiB host memory '
              '({seconds} s); the hidden layer of all points at once would be '
              '{all_at_once_hidden_mib} MiB'.format(**memory))

    md = ['```',
          format_table(rows, [('n', 'n'), ('what', 'what'),
                              ('article_ms', 'article (ms)', '{:.2f}'),
                              ('numpy_ms', 'dec_chainer numpy (ms)', '{:.3f}'),
                              ('speedup', 'speed-up', '{:.0f}x')]), '```']
    if gpu_rows:
        md += ['', '```', format_table(gpu_rows, [
            ('n', 'n'), ('what', 'what'), ('unfused_ms', 'cupy unfused (ms)', '{:.3f}'),
            ('fused_ms', 'dec_chainer fused (ms)', '{:.3f}'),
            ('speedup', 'speed-up', '{:.1f}x')]), '```']
    if memory:
        md += ['', 'P over {n:,} points through a {encoder} encoder in batches of '
               '{batchsize}: peak {peak_mib} MiB of host memory (the hidden layer of all '
               'points at once alone: {all_at_once_hidden_mib} MiB).'.format(**memory)]
    _bench.write_result(
        args.out, 'bench_kl_gpu' if gpu else 'bench_kl',
        {'cpu': rows, 'gpu': gpu_rows, 'memory_1m': memory, 'K': K, 'd': D,
         'repeat': args.repeat}, 'bench_kl: DEC loss and P, K={}, d={}, float32'.format(K, D),
        '\n'.join(md), prov)
    return 0


if __name__ == '__main__':
    sys.exit(main())
