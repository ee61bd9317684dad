"""Run by ``tests/test_mpi.py`` under ``mpiexec -n N``: data-parallel pieces against what one
process computes from all rows, written by rank 0 to ``OUT/result.json``.

    mpiexec -n 2 python tests/mpi_worker.py check OUT
    mpiexec -n 2 python tests/mpi_worker.py raise OUT   # rank 1 raises; the job must end
"""

import hashlib
import json
import os
import sys

import numpy

import dec_chainer  # noqa: F401  (patches the stack before chainer)
import chainer

from dec_chainer import _files, distributed
from dec_chainer.datasets import load_dataset
from dec_chainer.functions import target_distribution
from dec_chainer.links import DeepEmbeddedClustering, ReconstructionLoss
from dec_chainer.presets import get_config
from dec_chainer.training import build_autoencoder
from dec_chainer.training import RunContext, Schedule, make_trainer, run_resumable
from dec_chainer.training.extensions import RefreshTargetDistribution

K = 10


def build(X, seed=0):
    config = get_config('quick', hidden_dims=(32, 32, 64, 10))
    sdae = build_autoencoder(X.shape[1], config, numpy.random.RandomState(seed))
    sdae[-1].encoder.W.array *= 30  # embeddings far apart: q (and so P) far from uniform
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        centroids = sdae.encode(X[::len(X) // K][:K]).array
    return DeepEmbeddedClustering(sdae, centroids)


def params(link):
    return {name: p.array.copy() for name, p in sorted(link.namedparams())
            if p.array is not None}


def one_step(target, data, comm, out, lr):
    """One full-batch MomentumSGD step of ``target`` on ``data`` (this rank's rows)."""
    context = RunContext('@numpy', comm, progress=False)
    trainer = make_trainer(target, data, Schedule(len(data), lr, 0.9), out, 0, context,
                           stop_trigger=(1, 'iteration'))
    run_resumable(trainer, context)
    return params(target)


def max_diff(a, b):
    return max(float(numpy.abs(a[k] - b[k]).max()) for k in a)


def check(comm, out):
    X, y = load_dataset('digits')
    # sorted by class, so each rank's rows hold other digits (and other f_j) than the
    # next's; equal shards, so a full-batch step is the mean of the ranks' steps
    X = X[numpy.argsort(y, kind='stable')][:len(X) - len(X) % comm.size]
    rows = distributed.shard(len(X), comm)
    result = {'size': comm.size}

    # P: every rank's rows of the global target distribution
    model = build(X)
    p_local = numpy.zeros((rows.stop - rows.start, K), numpy.float32)
    refresh = RefreshTargetDistribution(model, X[rows], p_local, comm=comm)
    refresh.refresh()
    p_gathered = distributed.gather_rows(comm, p_local)
    labels = distributed.gather_rows(comm, refresh.labels)
    # the same with P and the labels in memory-mapped files (data larger than memory)
    scratch = os.path.join(out, 'scratch{}'.format(comm.rank))
    p_file = _files.new_array(scratch, 'p', p_local.shape, numpy.float32)
    on_disk = RefreshTargetDistribution(model, X[rows], p_file, comm=comm, scratch=scratch)
    on_disk.refresh()
    p_disk = distributed.gather_rows(comm, p_file)
    # the stop test's quantity: every rank gets the global fraction (every third row of
    # all rows changed), not its own rows' fraction
    index = numpy.arange(rows.start, rows.stop)
    previous = numpy.where(index % 3 == 0, (refresh.labels + 1) % K, refresh.labels)
    changes = distributed.allgather(comm, refresh.fraction_changed(refresh.labels, previous))
    if comm.rank == 0:
        q = numpy.concatenate(list(model.soft_assignment_batches(X)))
        p_one = target_distribution(q)
        q_own = numpy.concatenate(list(model.soft_assignment_batches(X[rows])))  # what a rank's own f_j would give
        result.update(
            p_max_diff=float(numpy.abs(p_gathered - p_one).max()),
            p_disk_max_diff=float(numpy.abs(p_disk - p_one).max()),
            disk_is_memmap=isinstance(p_file, numpy.memmap),
            p_spread=float(p_one.max() - p_one.min()),
            p_local_f_max_diff=float(numpy.abs(target_distribution(q_own)
                                               - p_one[rows]).max()),
            labels_equal=bool((labels == q.argmax(axis=1)).all()),
            label_changes=changes,
            label_change_expected=float(numpy.mean(numpy.arange(len(X)) % 3 == 0)))

    # rows gathered as raw buffers: uneven shares, several chunks per rank, into a file
    distributed.GATHER_CHUNK_BYTES, chunk = 40, distributed.GATHER_CHUNK_BYTES
    mine = numpy.arange(7 * (comm.rank + 2), dtype=numpy.float64).reshape(-1, 7) + comm.rank
    path = os.path.join(out, 'gathered.npy')
    into = numpy.lib.format.open_memmap(path, mode='w+', dtype=numpy.float64, shape=(
        sum(r + 2 for r in range(comm.size)), 7)) if comm.rank == 0 else None
    gathered = distributed.gather_rows(comm, mine, into)
    distributed.GATHER_CHUNK_BYTES = chunk
    if comm.rank == 0:
        expected = numpy.concatenate([numpy.arange(7 * (r + 2), dtype=numpy.float64)
                                      .reshape(-1, 7) + r for r in range(comm.size)])
        gathered.flush()
        result['gathered_into_file'] = bool(
            gathered is into and numpy.array_equal(numpy.load(path), expected))
    else:
        result['gathered_into_file'] = gathered is None

    # one DEC step and one autoencoder step: every rank's parameters equal one process's
    p_all = distributed.gather_rows(comm, p_local)
    p_all = distributed.bcast(comm, p_all)
    dec_mpi = one_step(model, chainer.datasets.TupleDataset(X[rows], p_all[rows]), comm,
                       os.path.join(out, 'dec'), lr=10.0)
    ae = build(X, seed=1).autoencoder
    ae_mpi = one_step(ReconstructionLoss(ae), X[rows], comm, os.path.join(out, 'ae'), lr=1.0)
    digests = distributed.allgather(comm, hashlib.sha256(b''.join(
        a.tobytes() for a in list(dec_mpi.values()) + list(ae_mpi.values()))).hexdigest())
    if comm.rank == 0:
        before = params(build(X))
        dec_one = one_step(build(X), chainer.datasets.TupleDataset(X, p_all), None,
                           os.path.join(out, 'dec_one'), lr=10.0)
        ae_one = one_step(ReconstructionLoss(build(X, seed=1).autoencoder), X, None,
                          os.path.join(out, 'ae_one'), lr=1.0)
        result.update(
            dec_step=max_diff(dec_one, before),
            ae_step=max_diff(ae_one, params(ReconstructionLoss(build(X, seed=1).autoencoder))),
            dec_max_diff=max_diff(dec_mpi, dec_one),
            ae_max_diff=max_diff(ae_mpi, ae_one),
            identical_on_all_ranks=len(set(digests)) == 1)
        with open(os.path.join(out, 'result.json'), 'w') as f:
            json.dump(result, f)


def fail(comm, out):
    if comm.rank == 1:
        raise RuntimeError('planted failure on rank 1')
    distributed.allreduce_sum(comm, numpy.ones(1))  # rank 0 waits for a rank that is gone
    with open(os.path.join(out, 'not_reached'), 'w') as f:
        f.write('rank 0 went on')


if __name__ == '__main__':
    mode, out = sys.argv[1], sys.argv[2]
    comm = distributed.create_communicator('naive')
    assert comm is not None, 'run me under mpiexec -n N with N > 1'
    {'check': check, 'raise': fail}[mode](comm, out)
