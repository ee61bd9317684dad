#!/usr/bin/env python
"""Data-parallel DEC over MPI: time per iteration for 1, 2 and 4 processes, the all-reduce's
share of it, and peak memory per process on memory-mapped .npy files of growing size.

    .venv/bin/python scripts/bench_mpi.py [--procs 1 2 4] [--iters 60] [--memory 1 4 16]

Needs MPI (``bash scripts/setup_env.sh --mpi``). Results go to --out (default
results/bench) as ``bench_mpi.json`` and ``bench_mpi.md``.

Throughput (one run of this script per process count, under ``mpiexec -n N``; N = 1 runs
without MPI, the one-process code path): the 784-500-500-2000-10 network, global batch
256 (256 / N rows per process), through dec_chainer's Trainer exactly as a run trains it:
  * pretraining: end-to-end fine-tuning of the autoencoder;
  * DEC: minibatch steps of the DEC phase (encoder and centroids).
Per phase: ms per iteration (wall, rank 0), the bytes all-reduced per step (the gradients
ChainerMN's multi-node optimizer averages), and the time of that all-reduce alone
(``multi_node_mean_grad`` repeated on the same gradients) against the rest of the step.

Memory (``--memory SIZES``, GB): a .npy of 784-d float32 rows of each size is written
(under --scratch, default a temporary directory; deleted after), then ``dec-chainer
train`` clusters it with a short schedule (a small network, end-to-end pretraining only,
k-means on a 20,000-row subset) on one process and on two (``mpiexec -n 2``). A sampler
reads every process's ``RssAnon`` (anonymous memory: what cannot be paged back to the
file) and ``RssFile`` (the file's pages in memory, which the kernel can evict) from
/proc every 20 ms; the table has their peaks per process.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import _bench
from _bench import BATCH, DIMS
ROWS = 16384
MPI_ENV = {'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1',
           'OMPI_MCA_mpi_yield_when_idle': '1'}


def mpiexec():
    path = shutil.which('mpiexec', path=os.path.dirname(sys.executable))
    if path is None:
        sys.exit('bench_mpi.py needs MPI: bash scripts/setup_env.sh --mpi')
    return path


# -- throughput: one process of the job --------------------------------------------------

def worker(iters, out_json, threads):
    import dec_chainer  # noqa: F401
    import chainer
    from dec_chainer import distributed
    from dec_chainer.links import DeepEmbeddedClustering, ReconstructionLoss
    from dec_chainer.presets import get_config
    from dec_chainer.training import build_autoencoder
    from dec_chainer.training import RunContext, Schedule, make_trainer

    comm = distributed.create_communicator('naive')
    N = distributed.size(comm)
    X = numpy.random.RandomState(0).rand(ROWS, DIMS[0]).astype(numpy.float32)
    X = X[distributed.shard(ROWS, comm)]
    cpu = chainer.get_device('@numpy')
    config = get_config('paper')

    def timed(target, dataset, name):
        marks = {}

        class Mark(chainer.training.Extension):
            trigger = (1, 'iteration')

            def __call__(self, trainer):
                if trainer.updater.iteration in (5, 5 + iters):
                    marks[trainer.updater.iteration] = time.perf_counter()

        trainer = make_trainer(target, dataset, Schedule(BATCH // N, 0.01, 0.9,
                                                         snapshot_interval=10 ** 9,
                                                         snapshot_seconds=1e9),
                               tempfile.mkdtemp(prefix='bench_mpi_'), 0,
                               RunContext(cpu, comm, progress=False),
                               stop_trigger=(5 + iters, 'iteration'))
        trainer.extend(Mark())
        trainer.run()
        shutil.rmtree(trainer.out, ignore_errors=True)
        ms = 1e3 * (marks[5 + iters] - marks[5]) / iters
        # the gradients of one step as the multi-node optimizer all-reduces them (those of
        # the parameters in the loss's graph: not the decoders' in the DEC phase)
        batch = dataset[numpy.arange(BATCH // N)]  # (x, p) or x, as the iterator gives
        target.cleargrads()
        (target(*batch) if isinstance(batch, tuple) else target(batch)).backward()
        grads = [p for p in target.params() if p.grad is not None]
        nbytes = sum(p.grad.nbytes for p in grads)
        allreduce_ms = 0.0
        if comm is not None:  # the gradient all-reduce alone, on the last step's gradients
            comm.mpi_comm.Barrier()
            t = time.perf_counter()
            for _ in range(iters):
                comm.multi_node_mean_grad(target)
            allreduce_ms = 1e3 * (time.perf_counter() - t) / iters
        return {'phase': name, 'processes': N, 'ms': ms, 'allreduce_bytes': nbytes,
                'allreduce_ms': allreduce_ms, 'compute_ms': ms - allreduce_ms}

    rows = []
    sdae = build_autoencoder(DIMS[0], config.replace(hidden_dims=DIMS[1:]),
                             numpy.random.RandomState(0))
    rows.append(timed(ReconstructionLoss(sdae), X, 'pretraining (fine-tuning)'))
    centroids = numpy.random.RandomState(1).randn(10, DIMS[-1]).astype(numpy.float32)
    model = DeepEmbeddedClustering(sdae, centroids)
    for pair in model.autoencoder:
        pair.decoder.disable_update()
    p = numpy.random.RandomState(2).dirichlet(numpy.ones(10), len(X)).astype(numpy.float32)
    rows.append(timed(model, chainer.datasets.TupleDataset(X, p), 'DEC'))
    if distributed.is_root(comm):
        for r in rows:
            r['blas_threads'] = threads
        with open(out_json, 'w') as f:
            json.dump(rows, f)


def throughput(procs, iters):
    rows = []
    for n in procs:
        # as many BLAS threads per process as leaves the cores shared out (at least 1)
        threads = max(1, (os.cpu_count() or 1) // n)
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), **MPI_ENV)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'rows.json')
            cmd = [sys.executable, os.path.abspath(__file__), '--worker', '--iters',
                   str(iters), '--worker-out', out, '--worker-threads', str(threads)]
            if n > 1:
                cmd = [mpiexec(), '--oversubscribe', '-n', str(n)] + cmd
            subprocess.run(cmd, check=True, env=env, cwd=ROOT)
            with open(out) as f:
                got = json.load(f)
        for r in got:
            print('{} processes, {}: {:.2f} ms/iteration ({:.2f} all-reduce of {:.1f} MB)'
                  .format(n, r['phase'], r['ms'], r['allreduce_ms'],
                          r['allreduce_bytes'] / 1e6), flush=True)
        rows += got
    for r in rows:
        one = [x for x in rows if x['phase'] == r['phase'] and x['processes'] == 1]
        r['speedup'] = one[0]['ms'] / r['ms'] if one else None
    return rows


# -- memory: a memory-mapped .npy of growing size ----------------------------------------

def write_npy(path, gigabytes, seed=0):
    """A .npy of 784-d float32 rows in [0, 1) of about ``gigabytes`` GB, written in blocks."""
    rows = int(gigabytes * 2 ** 30 // (DIMS[0] * 4))
    out = numpy.lib.format.open_memmap(path, mode='w+', dtype=numpy.float32,
                                       shape=(rows, DIMS[0]))
    rng = numpy.random.RandomState(seed)
    block = 65536
    for start in range(0, rows, block):
        n = min(block, rows - start)
        out[start:start + n] = rng.random_sample((n, DIMS[0])).astype(numpy.float32)
    out.flush()
    del out
    return rows


def _status(pid):
    values = {}
    try:
        with open('/proc/{}/status'.format(pid)) as f:
            for line in f:
                key, _, rest = line.partition(':')
                if key in ('RssAnon', 'RssFile'):
                    values[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return values


def _children(pid):
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            with open('/proc/{}/task/{}/children'.format(p, p)) as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def peak_memory(cmd, env):
    """Run ``cmd``; the peak RssAnon and RssFile of each of its Python processes."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    peaks = {}
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in _children(proc.pid):
                try:
                    with open('/proc/{}/cmdline'.format(pid), 'rb') as f:
                        if b'dec_chainer' not in f.read():
                            continue
                except OSError:
                    continue
                s = _status(pid)
                if s:
                    old = peaks.get(pid, {'RssAnon': 0, 'RssFile': 0})
                    peaks[pid] = {k: max(old[k], s.get(k, 0)) for k in old}
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    t0 = time.time()
    sampler.start()
    output = proc.communicate()[0]
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError('{} failed:\n{}'.format(' '.join(cmd), output[-3000:]))
    return list(peaks.values()), time.time() - t0


#: a short schedule: what is measured is memory, not clustering quality
MEMORY_SETTINGS = ['hidden_dims=[64,64,128,10]', 'layerwise_iters=0', 'finetune_iters=200',
                   'dec_max_iter=160', 'update_interval=80', 'kmeans_samples=20000',
                   'kmeans_n_init=2', 'eval_batchsize=8192', 'snapshot_seconds=1e9']


def memory(sizes, scratch):
    rows = []
    for gb in sizes:
        d = tempfile.mkdtemp(prefix='bench_mpi_mem_', dir=scratch)
        try:
            path = os.path.join(d, 'data.npy')
            t = time.time()
            n = write_npy(path, gb)
            print('{} GB: {} rows written in {:.0f} s'.format(gb, n, time.time() - t),
                  flush=True)
            for procs in (1, 2):
                cmd = [sys.executable, '-m', 'dec_chainer', 'train', '--dataset', path,
                       '--clusters', '10', '--out', os.path.join(d, 'run{}'.format(procs)),
                       '--no-progress', '--no-figures', '--set'] + MEMORY_SETTINGS
                env = dict(os.environ, OPENBLAS_NUM_THREADS=str(max(1, 2 // procs)),
                           **MPI_ENV)
                if procs > 1:
                    cmd = [mpiexec(), '--oversubscribe', '-n', str(procs)] + cmd
                peaks, wall = peak_memory(cmd, env)
                row = {'gigabytes': gb, 'rows': n, 'processes': procs,
                       'rss_anon_mb': max(p['RssAnon'] for p in peaks) / 2 ** 20,
                       'rss_file_mb': max(p['RssFile'] for p in peaks) / 2 ** 20,
                       'seconds': wall}
                print('  {} process(es): peak RssAnon {:.0f} MB, RssFile {:.0f} MB per '
                      'process, {:.0f} s'.format(procs, row['rss_anon_mb'],
                                                 row['rss_file_mb'], wall), flush=True)
                rows.append(row)
                shutil.rmtree(os.path.join(d, 'run{}'.format(procs)), ignore_errors=True)
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--procs', type=int, nargs='*', default=[1, 2, 4])
    ap.add_argument('--iters', type=int, default=60)
    ap.add_argument('--memory', type=float, nargs='*', default=[1, 4, 16],
                    help='file sizes (GB) of the memory measurement (none: skip it)')
    ap.add_argument('--scratch', default=None,
                    help='where the .npy files are written (default: the temporary '
                         'directory); needs the largest size free')
    ap.add_argument('--out', default='results/bench')
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--worker-out', help=argparse.SUPPRESS)
    ap.add_argument('--worker-threads', type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.iters, args.worker_out, args.worker_threads)

    import dec_chainer  # noqa: F401
    from dec_chainer.reporting import format_table, machine_line, write_page
    prov = _bench.run_provenance('bench_mpi.py', argv)
    # a part not measured in this run (--procs or --memory given no values) keeps the
    # rows and provenance of the previous run's file
    path = os.path.join(args.out, 'bench_mpi.json')
    previous = json.load(open(path)) if os.path.exists(path) else {}
    rows = throughput(args.procs, args.iters) if args.procs else previous.get('throughput', [])
    mem = memory(args.memory, args.scratch) if args.memory else previous.get('memory', [])
    prov_t = prov if args.procs else previous.get('throughput_provenance', prov)
    prov_m = prov if args.memory else previous.get('memory_provenance', prov)
    table = format_table(rows, [
        ('phase', 'phase'), ('processes', 'processes'), ('blas_threads', 'BLAS threads'),
        ('ms', 'ms / iteration', '{:.2f}'), ('speedup', 'x one process', '{:.2f}'),
        ('allreduce_bytes', 'all-reduced bytes / step', '{:.0f}'),
        ('allreduce_ms', 'all-reduce ms', '{:.2f}'), ('compute_ms', 'rest ms', '{:.2f}')])
    mem_table = format_table(mem, [
        ('gigabytes', 'file (GB)', '{:g}'), ('rows', 'rows'), ('processes', 'processes'),
        ('rss_anon_mb', 'peak RssAnon (MB)', '{:.0f}'),
        ('rss_file_mb', 'peak RssFile (MB)', '{:.0f}'), ('seconds', 'wall (s)', '{:.0f}')])
    print(table)
    print(mem_table)
    write_page(os.path.join(args.out, 'bench_mpi'), {
        'throughput': rows, 'memory': mem, 'dims': DIMS, 'batch': BATCH,
        'memory_settings': MEMORY_SETTINGS, 'throughput_provenance': prov_t,
        'memory_provenance': prov_m},
        '# bench_mpi: data-parallel DEC over MPI (ChainerMN, naive communicator)\n\n'
        'Throughput ({}; `{}`): {} network, global batch {} ({} / N rows per '
        'process), Trainer with all its extensions; all-reduce: '
        '`multi_node_mean_grad` alone on the same gradients.\n\n```\n{}\n```\n\n'
        'Memory per process on a memory-mapped .npy of 784-d float32 rows ({}; `{}`; '
        '`dec-chainer train` with {}):\n\n```\n{}\n```\n'.format(
            machine_line(prov_t), prov_t['command'], '-'.join(map(str, DIMS)), BATCH,
            BATCH, table, machine_line(prov_m), prov_m['command'],
            ' '.join(MEMORY_SETTINGS), mem_table))
    return 0


if __name__ == '__main__':
    sys.exit(main())
