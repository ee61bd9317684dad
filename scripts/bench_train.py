#!/usr/bin/env python
"""Time one training iteration of the end-to-end autoencoder 784-500-500-2000-10 (batch 256),
and of each greedy layer-wise pretraining stage.

    .venv/bin/python scripts/bench_train.py [--iters 100] [--profile] [--no-stages | --stages-only]

Rows, measured in this run on the same random data, float32, MomentumSGD (lr 0.1,
momentum 0.9), MSE loss:
  * numpy: a hand-written NumPy forward + backward + update;
  * chainer-updater: dec_chainer's model, loss link and optimizer (MomentumSGD with its
    update in BLAS) under Chainer's StandardUpdater; the same with Chainer's MomentumSGD;
  * chainer-trainer: the same inside dec_chainer's Trainer with all its extensions
    (the pipeline as it runs);
  * chainer-updater with ``chainer.config.type_check`` off (what Chainer's checks cost);
  * GEMMs alone: only the 23 matrix products of an iteration on preallocated operands, the
    floor every implementation sits above (the last column: ms above it);
  * pytorch: the same network and optimiser in PyTorch, when it is installed
    (``pip install torch==2.13.0``); skipped cleanly otherwise.
Ratios are against PyTorch (or NumPy without it). ``--profile`` writes where the Chainer step
spends its time.

Per stage (``bench_train_stages``): each layer-wise pair k (784-500-784, 500-500-500,
500-2000-500, 2000-10-2000) and end-to-end fine-tuning, trained as the pipeline trains them
(dec_chainer's Trainer with each preset's dropout placement, loss and optimiser settings)
on inputs of the pair's width, against that stage's GEMM floor (forward, weight gradients
and the gradient into the code; no gradient into the stage's input); each time is the
fastest of 3 runs; and the same stages with every layer 8 wide (the per-iteration cost of
Chainer, the Trainer and the optimiser, with arrays too small to take time). With the
``paper`` and ``article`` schedules (iterations per stage) this projects each preset's
pretraining time.

Results go to --out (default results/bench) as JSON and Markdown.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time

import numpy

import dec_chainer  # before chainer: makes Chainer 7.8.1 work on NumPy 2
import chainer
from dec_chainer.links import ReconstructionLoss, StackedDenoisingAutoEncoder
from dec_chainer.reporting import format_table

import _bench
from _bench import BATCH, DIMS, gemm_floor, stage_sizes
from dec_chainer.presets import get_config
from dec_chainer.training.optimizers import MomentumSGD
from dec_chainer.training import (BatchIterator, Reporting, RunContext, Schedule, make_trainer,
                                  send_batch, stage_random_state)

LR, MOMENTUM = 0.1, 0.9
QUIET = RunContext('@numpy', progress=False)


def data(n=8192, seed=0, width=DIMS[0]):
    return numpy.random.RandomState(seed).rand(n, width).astype(numpy.float32)


def per_iteration(step, iters):
    return _bench.seconds_per_call(step, repeats=iters, warmup=5)


# -- NumPy -------------------------------------------------------------------------------------

def numpy_step_factory(X):
    rng = numpy.random.RandomState(0)
    sizes = list(DIMS) + list(reversed(DIMS[:-1]))
    Ws = [(rng.randn(o, i) * 0.01).astype(numpy.float32) for i, o in zip(sizes, sizes[1:])]
    bs = [numpy.zeros(o, numpy.float32) for o in sizes[1:]]
    vW = [numpy.zeros_like(w) for w in Ws]
    vb = [numpy.zeros_like(b) for b in bs]
    n_layers = len(Ws)
    linear_out = {len(DIMS) - 2, n_layers - 1}  # the embedding and the reconstruction
    state = {'pos': 0}

    def step():
        i = state['pos']
        x = X[i:i + BATCH]
        state['pos'] = (i + BATCH) % (len(X) - BATCH)
        hs = [x]
        for k in range(n_layers):
            h = hs[-1] @ Ws[k].T + bs[k]
            if k not in linear_out:
                numpy.maximum(h, 0, out=h)
            hs.append(h)
        g = (hs[-1] - x) * (2.0 / x.size)
        for k in reversed(range(n_layers)):
            if k not in linear_out:
                g = g * (hs[k + 1] > 0)
            gW = g.T @ hs[k]
            gb = g.sum(axis=0)
            if k:
                g = g @ Ws[k]
            vW[k] *= MOMENTUM
            vW[k] -= LR * gW
            Ws[k] += vW[k]
            vb[k] *= MOMENTUM
            vb[k] -= LR * gb
            bs[k] += vb[k]

    return step


# -- Chainer (dec_chainer) ---------------------------------------------------------------------

def chainer_updater_factory(X, type_check=True, optimizer=MomentumSGD):
    """The pipeline's updater (its batch iterator, converter and optimizer: dec_chainer's
    MomentumSGD, or ``optimizer``) without the Trainer."""
    loss = ReconstructionLoss(
        StackedDenoisingAutoEncoder(DIMS, rng=numpy.random.RandomState(0)), 'mse')
    opt = optimizer(lr=LR, momentum=MOMENTUM)
    opt.setup(loss)
    it = BatchIterator(X, BATCH, order_sampler=chainer.iterators.ShuffleOrderSampler(
        numpy.random.RandomState(0)))
    updater = chainer.training.updaters.StandardUpdater(it, opt, converter=send_batch)
    if type_check:
        return updater.update

    def update():
        with chainer.using_config('type_check', False):
            updater.update()
    return update


def chainer_trainer_per_iteration(X, iters):
    """The pipeline's Trainer with all its extensions (lr 0.1, momentum 0.9, MSE)."""
    sdae = StackedDenoisingAutoEncoder(DIMS, rng=numpy.random.RandomState(0))
    return stage_trainer_per_iteration(sdae, X, iters, get_config('quick', lr=LR), repeats=1)


# -- PyTorch -----------------------------------------------------------------------------------

def torch_step_factory(X, threads):
    try:
        import torch
    except ImportError:
        return None, None
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    layers = []
    sizes = list(DIMS) + list(reversed(DIMS[:-1]))
    n_layers = len(sizes) - 1
    linear_out = {len(DIMS) - 2, n_layers - 1}
    for k, (i, o) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(i, o))
        if k not in linear_out:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    Xt = torch.from_numpy(X)
    state = {'pos': 0}

    def step():
        i = state['pos']
        x = Xt[i:i + BATCH]
        state['pos'] = (i + BATCH) % (len(X) - BATCH)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), x)
        loss.backward()
        opt.step()

    return step, torch.__version__


# -- per pretraining stage ----------------------------------------------------------------

def stage_trainer_per_iteration(target, X, iters, config, rng=None, repeats=3):
    """Seconds per iteration of ``target`` (a pair, its dropout masks from ``rng``, or the
    stack) under the pipeline's Trainer, with ``config``'s optimiser settings, after a
    warm-up: the fastest of ``repeats`` runs of ``iters`` iterations (the least disturbed
    on a shared machine)."""
    from dec_chainer.links import ReconstructionLoss
    loss = ReconstructionLoss(target, config.ae_loss, rng)
    with tempfile.TemporaryDirectory() as out:
        def run(n):
            trainer = make_trainer(
                loss, X, Schedule.pretraining(config.replace(snapshot_interval=10 ** 9),
                                              BATCH), out, 0, QUIET,
                stop_trigger=(n, 'iteration'), random_states=[rng] if rng else [],
                reporting=Reporting(log_interval=max(1, n // 2)))
            t = time.perf_counter()
            trainer.run()
            return time.perf_counter() - t
        run(5)  # warm-up
        return min(run(iters) for _ in range(repeats)) / iters


def stage_rows(iters, presets=('paper', 'article')):
    """ms per iteration of every pretraining stage against its GEMM floor, trained as each
    preset trains it (its dropout placement, loss and optimiser settings)."""
    stages = stage_sizes()
    rows = [{'stage': '{} {}'.format('layer{}'.format(k + 1) if k + 1 < len(stages)
                                     else 'finetune', '-'.join(map(str, sizes)))}
            for k, sizes in enumerate(stages)]
    for row, sizes in zip(rows, stages):
        row['floor_ms'] = 1e3 * min(per_iteration(gemm_floor(sizes), iters)
                                    for _ in range(3))
    for preset in presets:
        config = get_config(preset)
        # the same stages at width 8 (every layer): what Chainer, the Trainer and the
        # optimiser cost an iteration when the arrays are too small to take any time
        for key, dims in ((preset + '_ms', DIMS), (preset + '_width8_ms', (8,) * len(DIMS))):
            sdae = StackedDenoisingAutoEncoder(dims, dropout=config.dropout,
                                               dropout_placement=config.dropout_placement,
                                               rng=numpy.random.RandomState(0))
            for k, pair in enumerate(sdae):
                X = data(seed=k, width=dims[k])
                rng = stage_random_state(0, k + 1, generator=True)  # as the pipeline
                rows[k][key] = 1e3 * stage_trainer_per_iteration(pair, X, iters, config, rng)
            rows[-1][key] = 1e3 * stage_trainer_per_iteration(sdae, data(width=dims[0]),
                                                              iters, config)
        for r in rows:
            r[preset + '_x_floor'] = r[preset + '_ms'] / r['floor_ms']
    return rows


def projection(rows, presets=('paper', 'article')):
    """Pretraining minutes of each preset's schedule at its measured speeds."""
    out = {}
    for preset in presets:
        c = get_config(preset)
        n = [c.layerwise_iters] * (len(rows) - 1) + [c.finetune_iters]
        out[preset] = {'iterations': n,
                       'minutes': sum(i * r[preset + '_ms'] for i, r in zip(n, rows)) / 6e4,
                       'floor_minutes': sum(i * r['floor_ms'] for i, r in zip(n, rows)) / 6e4}
    return out


def profile_chainer(X, iters, path):
    step = chainer_updater_factory(X)
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(iters):
        step()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats('tottime').print_stats(25)
    with open(path, 'w') as f:
        f.write('cProfile of {} StandardUpdater.update() calls, sorted by own time\n\n'.format(
            iters))
        f.write(buf.getvalue())
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--iters', type=int, default=100)
    ap.add_argument('--out', default='results/bench')
    ap.add_argument('--profile', action='store_true')
    stages = ap.add_mutually_exclusive_group()
    stages.add_argument('--no-stages', action='store_true',
                        help='skip the per-stage rows of layer-wise pretraining')
    stages.add_argument('--stages-only', action='store_true',
                        help='only the per-stage rows (bench_train_stages)')
    args = ap.parse_args(argv)
    prov = _bench.run_provenance('bench_train.py', argv)
    if args.stages_only:
        write_stages(stage_rows(args.iters), args.out, prov, args.iters)
        return 0
    X = data()
    threads = os.cpu_count() or 1
    rows = []
    t_np = per_iteration(numpy_step_factory(X), args.iters)
    rows.append({'impl': 'numpy (hand-written)', 'ms': 1e3 * t_np})
    t_up = per_iteration(chainer_updater_factory(X), args.iters)
    rows.append({'impl': 'dec_chainer: Chainer StandardUpdater', 'ms': 1e3 * t_up})
    t_co = per_iteration(chainer_updater_factory(
        X, optimizer=chainer.optimizers.MomentumSGD), args.iters)
    rows.append({'impl': "dec_chainer: StandardUpdater, Chainer's MomentumSGD", 'ms': 1e3 * t_co})
    t_tc = per_iteration(chainer_updater_factory(X, type_check=False), args.iters)
    rows.append({'impl': 'dec_chainer: StandardUpdater, type_check off', 'ms': 1e3 * t_tc})
    t_tr = chainer_trainer_per_iteration(X, args.iters)
    rows.append({'impl': 'dec_chainer: Trainer + extensions', 'ms': 1e3 * t_tr})
    torch_step, torch_version = torch_step_factory(X, threads)
    if torch_step is not None:
        t_torch = per_iteration(torch_step, args.iters)
        rows.append({'impl': 'pytorch {} ({} threads)'.format(torch_version, threads),
                     'ms': 1e3 * t_torch})
        base, base_name = t_torch, 'pytorch'
    else:
        print('PyTorch is not installed: its row is skipped (pip install torch==2.13.0)')
        base, base_name = t_np, 'numpy'
    t_gemm = per_iteration(gemm_floor(stage_sizes()[-1]), args.iters)
    rows.append({'impl': 'GEMMs alone (the floor)', 'ms': 1e3 * t_gemm})
    for r in rows:
        r['ratio'] = r['ms'] / (1e3 * base)
        r['over_gemm_ms'] = r['ms'] - 1e3 * t_gemm
    table = format_table(rows, [('impl', 'implementation'), ('ms', 'ms / iteration', '{:.2f}'),
                                ('ratio', 'x ' + base_name, '{:.2f}'),
                                ('over_gemm_ms', 'ms above the GEMMs', '{:.2f}')])
    print(table)
    prof_path = None
    if args.profile:
        prof_path = profile_chainer(X, min(args.iters, 50),
                                    os.path.join(args.out, 'bench_train_profile.txt'))
        print('profile: {}'.format(prof_path))
    if not args.no_stages:
        write_stages(stage_rows(args.iters), args.out, prov, args.iters)
    _bench.write_result(
        args.out, 'bench_train', {'rows': rows, 'baseline': base_name, 'dims': DIMS,
                                  'batch': BATCH, 'iters': args.iters},
        'bench_train: one iteration of {} (batch {}), float32'.format(
            '-'.join(map(str, DIMS)), BATCH), '```\n{}\n```'.format(table), prov)
    return 0


def write_stages(rows, out, prov, iters):
    proj = projection(rows)
    table = format_table(rows, [('stage', 'stage'), ('floor_ms', 'GEMM floor (ms)', '{:.2f}'),
                                ('paper_ms', 'paper: ms / it', '{:.2f}'),
                                ('paper_x_floor', 'x floor', '{:.2f}'),
                                ('paper_width8_ms', 'at width 8', '{:.2f}'),
                                ('article_ms', 'article: ms / it', '{:.2f}'),
                                ('article_x_floor', 'x floor', '{:.2f}'),
                                ('article_width8_ms', 'at width 8', '{:.2f}')])
    lines = ['{}: {} iterations per stage -> pretraining {:.1f} min (GEMM floor {:.1f} min)'
             .format(p, '/'.join(map(str, v['iterations'])), v['minutes'],
                     v['floor_minutes']) for p, v in proj.items()]
    lines.append('(each stage trained as the preset trains it: the paper drops the inputs of '
                 'pairs 2-4 and the codes of pairs 1-3, the article every input and code; '
                 'half-sum vs mean MSE; fine-tuning without dropout in both; each time the '
                 'fastest of 3 runs of {} iterations)'.format(iters))
    lines.append('at width 8: the same stage, preset and Trainer with every layer 8 wide, '
                 'where the arrays take no time: the cost of an iteration of Chainer, the '
                 'Trainer, its extensions and the optimiser, which no stage goes below')
    print(table)
    print('\n'.join(lines))
    _bench.write_result(
        out, 'bench_train_stages', {'rows': rows, 'projection': proj, 'batch': BATCH,
                                    'iters': iters, 'repeats': 3},
        'bench_train stages: each pretraining stage against its GEMM floor (batch {})'.format(
            BATCH), '```\n{}\n```\n\n{}'.format(table, '\n'.join('- ' + x for x in lines)),
        prov)


if __name__ == '__main__':
    sys.exit(main())
