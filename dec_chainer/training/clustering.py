"""Phase 2: DEC, refining the encoder and the centroids by minimising KL(P || Q)."""

import os

import numpy

import chainer

from dec_chainer import _files, distributed
from dec_chainer.training._common import make_trainer, run_resumable
from dec_chainer.training.extensions import (ClusteringMetrics, ConvergenceCheck,
                                             RefreshTargetDistribution)


def train_dec(model, X, config, out, device, seed=0, y=None, initial_labels=None,
              progress=True, log=None, comm=None, scratch=None):
    """Run DEC's clustering phase on ``model`` (in place) over all rows of ``X``.

    Every ``update_interval`` iterations ``P`` is recomputed from all points; every
    ``check_interval`` the hard labels are compared with the previous check and training
    stops when fewer than ``tol`` changed (or after ``dec_max_iter`` iterations). The log
    holds both ``dec/label_change`` (since the previous refresh of P) and
    ``dec/stop_change`` (since the previous check: what is compared with ``tol``). With
    ``y`` the log also holds ACC/NMI/ARI at each refresh. A run cut short resumes from its
    last snapshot under ``out``.

    Under MPI (``comm``): ``X`` and ``initial_labels`` are this rank's rows, ``y`` all
    clustered rows' labels at rank 0 (None elsewhere); ``P``, the label changes and the
    metrics are global (see :class:`RefreshTargetDistribution`), each rank takes its
    equal share of every minibatch (a full-batch step: all its rows, the loss weighted
    so the averaged gradient is the full batch's), and all ranks stop at the same
    iteration.

    ``scratch``: a directory for the per-row arrays (P, labels) as memory-mapped files, for
    ``X`` larger than memory (see :class:`RefreshTargetDistribution`); None: in memory.

    Returns:
        dict: ``iterations``, ``converged``, ``last_change`` (fraction of labels changed at
        the last check), ``seconds`` of training (across resumptions) and the trainer's
        ``log`` (rank 0's; None on the other ranks).
    """
    device = chainer.get_device(device)
    model.to_device(device)
    p = _files.new_array(scratch, 'p', (len(X), model.n_clusters), X.dtype)  # refreshed
    dataset = chainer.datasets.TupleDataset(X, p)                            # in place
    refresh = RefreshTargetDistribution(model, X, p, initial_labels, config.eval_batchsize,
                                        comm=comm, scratch=scratch)
    check_interval = config.check_interval or config.update_interval
    stop = ConvergenceCheck(refresh, config.tol, config.dec_max_iter)
    if config.dec_batchsize:
        batchsize = distributed.local_batchsize(config.dec_batchsize, comm, 'dec_batchsize')
        share = 1.0 / distributed.size(comm)
    else:  # full batch: every rank's rows, weighted by their share of all rows
        batchsize = len(X)
        total = float(distributed.allreduce_sum(comm, numpy.array([len(X)], 'f8'))[0])
        share = len(X) / total
    # the multi-node optimizer averages the ranks' gradients: weight each rank's loss so
    # the average is the gradient of the global batch's loss
    weight = distributed.size(comm) * (share if config.dec_loss_reduce == 'mean' else 1.0)
    os.makedirs(out, exist_ok=True)
    root = distributed.is_root(comm)
    trainer = make_trainer(
        model, dataset, batchsize=batchsize, stop_trigger=stop.stop_trigger, lr=config.dec_lr,
        momentum=config.dec_momentum, out=out, device=device, seed=seed,
        lr_step=config.lr_step, lr_gamma=config.lr_gamma,
        snapshot_interval=config.dec_snapshot_interval or config.snapshot_interval,
        snapshot_seconds=config.snapshot_seconds,
        log_interval=config.update_interval,
        progress=progress, progress_interval=max(1, min(50, config.update_interval)),
        print_keys=['iteration', 'main/loss', 'dec/label_change', 'dec/stop_change']
        + (['dec/acc', 'dec/nmi', 'dec/ari'] if y is not None else []) + ['elapsed_time'],
        phase='the DEC phase', loss_func=None if weight == 1.0 else
        (lambda x, p: model(x, p, weight)),
        divergence_hint='the learning rate dec_lr={} is too large: lower it (--set '
                        'dec_lr=...).'.format(config.dec_lr), comm=comm, scratch=scratch)
    trainer.extend(refresh, trigger=(config.update_interval, 'iteration'))
    trainer.extend(stop, trigger=(check_interval, 'iteration'))
    if distributed.bcast(comm, y is not None):
        trainer.extend(ClusteringMetrics(refresh, y),
                       trigger=(config.update_interval, 'iteration'))
    run_resumable(trainer, log if root else None, comm)
    return {'iterations': trainer.updater.iteration, 'converged': stop.converged,
            'last_change': stop.last_change, 'seconds': round(trainer.elapsed_time, 2),
            'log': trainer.get_extension('LogReport').log if root else None}

