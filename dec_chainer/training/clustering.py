"""Phase 2: DEC, refining the encoder and the centroids by minimising KL(P || Q)."""

import os

import numpy

import chainer

from dec_chainer.training._common import Reporting, Schedule, make_trainer, run_resumable
from dec_chainer.training.context import RunContext
from dec_chainer.training.extensions import (ClusteringMetrics, ConvergenceCheck,
                                             RefreshTargetDistribution)


def train_dec(model, X, config, out, seed=0, y=None, initial_labels=None, context=None):
    """Run DEC's clustering phase on ``model`` (in place) over all rows of ``X``.

    Every ``update_interval`` iterations ``P`` is recomputed from all points; every
    ``check_interval`` the hard labels are compared with the previous check and training
    stops when fewer than ``tol`` changed (or after ``dec_max_iter`` iterations). The log
    holds both ``dec/label_change`` (since the previous refresh of P) and
    ``dec/stop_change`` (since the previous check: what is compared with ``tol``). With
    ``y`` the log also holds ACC/NMI/ARI at each refresh. A run cut short resumes from its
    last snapshot under ``out``.

    ``context`` (a :class:`~dec_chainer.training.context.RunContext`; default: the CPU,
    one process, in memory). Under MPI ``X`` and ``initial_labels`` are this rank's rows,
    ``y`` all clustered rows' labels at rank 0 (None elsewhere); ``P``, the label changes
    and the metrics are global (see :class:`RefreshTargetDistribution`), each rank takes
    its equal share of every minibatch (a full-batch step: all its rows, the loss weighted
    so the averaged gradient is the full batch's), and all ranks stop at the same
    iteration. With a scratch directory P and the labels are memory-mapped files there.

    Returns:
        dict: ``iterations``, ``converged``, ``last_change`` (fraction of labels changed at
        the last check), ``seconds`` of training (across resumptions) and the trainer's
        ``log`` (rank 0's; None on the other ranks).
    """
    context = context or RunContext()
    model.to_device(context.device)
    p = context.new_array('p', (len(X), model.n_clusters), X.dtype)  # refreshed in place
    refresh = RefreshTargetDistribution(model, X, p, initial_labels, config.eval_batchsize,
                                        comm=context.comm, scratch=context.scratch)
    check_interval = config.check_interval or config.update_interval
    stop = ConvergenceCheck(refresh, config.tol, config.dec_max_iter)
    batchsize, weight = _batch_and_weight(len(X), config, context)
    os.makedirs(out, exist_ok=True)
    reporting = Reporting(
        'the DEC phase', log_interval=config.update_interval,
        progress_interval=max(1, min(50, config.update_interval)),
        print_keys=['iteration', 'main/loss', 'dec/label_change', 'dec/stop_change']
        + (['dec/acc', 'dec/nmi', 'dec/ari'] if y is not None else []) + ['elapsed_time'],
        divergence_hint='the learning rate dec_lr={} is too large: lower it (--set '
                        'dec_lr=...).'.format(config.dec_lr))
    trainer = make_trainer(
        model, chainer.datasets.TupleDataset(X, p), Schedule.dec(config, batchsize), out,
        seed, context, stop_trigger=stop.stop_trigger, reporting=reporting,
        loss_func=None if weight == 1.0 else (lambda x, p: model(x, p, weight)))
    trainer.extend(refresh, trigger=(config.update_interval, 'iteration'))
    trainer.extend(stop, trigger=(check_interval, 'iteration'))
    if context.bcast(y is not None):
        trainer.extend(ClusteringMetrics(refresh, y),
                       trigger=(config.update_interval, 'iteration'))
    run_resumable(trainer, context)
    return {'iterations': trainer.updater.iteration, 'converged': stop.converged,
            'last_change': stop.last_change, 'seconds': round(trainer.elapsed_time, 2),
            'log': trainer.get_extension('LogReport').log if context.root else None}


def _batch_and_weight(n, config, context):
    """This process's minibatch size, and the weight of its loss: the multi-node optimizer
    averages the ranks' gradients, so each rank's loss is weighted to make that average
    the gradient of the global batch's loss."""
    if config.dec_batchsize:
        batchsize = context.local_batchsize(config.dec_batchsize, 'dec_batchsize')
        share = 1.0 / context.processes
    else:  # full batch: every rank's rows, weighted by their share of all rows
        batchsize = n
        total = float(context.allreduce_sum(numpy.array([n], 'f8'))[0])
        share = n / total
    weight = context.processes * (share if config.dec_loss_reduce == 'mean' else 1.0)
    return batchsize, weight
