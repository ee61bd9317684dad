"""What both training phases share: random streams, the trainer with its extensions."""

import dataclasses
import os

import numpy

import chainer
from chainer.iterators import _statemachine
from chainer.training import extension, extensions

from dec_chainer import _files, distributed
from dec_chainer.training.context import RunContext
from dec_chainer.training.optimizers import MomentumSGD
from dec_chainer.training.extensions import (LinearRamp, RandomStateKeeper, SnapshotTrigger,
                                             StepDecay, StopOnDivergence, set_bias_lr_mult)

SNAPSHOT_PREFIX = 'snapshot_iter_'


def stage_seed(seed, stage):
    """A seed per stage, so a run resumed at stage k draws what an uninterrupted one did.

    Every random draw of a run comes from a stream seeded this way from the run's one seed
    (the global NumPy and CuPy random states are never read or reseeded):

    =========  ==========================================================
    stage      stream
    =========  ==========================================================
    0          initial weights of the autoencoder
    k (1..)    dropout masks of layer-wise pair k
    100 + k    minibatch order of pair k (k = 0, 1, ...)
    150        minibatch order of end-to-end fine-tuning
    200        k-means restarts
    201        the rows k-means runs on (``kmeans_samples``)
    301        minibatch order of the DEC phase
    =========  ==========================================================
    """
    return int(numpy.random.SeedSequence([seed, stage]).generate_state(1)[0])


def stage_random_state(seed, stage, device=None, comm=None, generator=False):
    """The random state of ``stage`` (see :func:`stage_seed`) on ``device`` (under MPI,
    this rank's: :func:`~dec_chainer.distributed.rank_seed`).

    NumPy's ``RandomState`` on the CPU, or with ``generator`` a ``numpy.random.Generator``
    on PCG64 (the dropout streams: masks are drawn from its raw outputs, see
    :func:`~dec_chainer.links.autoencoder.dropout_mask`); either state goes into snapshots,
    so a resumed run draws what an uninterrupted one does. CuPy's on a GPU (drawn on the
    device; its state cannot be saved, so a resumed GPU run draws fresh dropout masks from
    there on).
    """
    s = distributed.rank_seed(stage_seed(seed, stage), comm) % (2 ** 32)
    if device is None or chainer.get_device(device).xp is numpy:
        if generator:
            return numpy.random.Generator(numpy.random.PCG64(s))
        return numpy.random.RandomState(s)
    with chainer.get_device(device):
        return chainer.get_device(device).xp.random.RandomState(s)


class BatchIterator(chainer.iterators.SerialIterator):

    """Chainer's ``SerialIterator`` (same order, same state in snapshots) that gathers each
    minibatch with one fancy-indexing copy per array instead of one ``__getitem__`` per
    example and a stack: ``dataset`` is an array or a ``TupleDataset`` of arrays.

    Batches are arrays (or tuples of arrays), for :func:`send_batch`.
    """

    def reset(self):
        # SerialIterator.reset, with the first order sampled from a range instead of an
        # array of every index (the samplers read only its length): no memory per row
        self._state = _statemachine.IteratorState(
            0, 0, False, self.order_sampler(range(len(self.dataset)), 0)
            if self.order_sampler else None)
        self._previous_epoch_detail = -1.

    def __next__(self):
        self._previous_epoch_detail = self.epoch_detail
        self._state, indices = _statemachine.iterator_statemachine(
            self._state, self.batch_size, self.repeat, self.order_sampler,
            len(self.dataset))
        if indices is None:
            raise StopIteration
        return self.dataset[indices]

    next = __next__


class FileShuffleOrderSampler(chainer.iterators.ShuffleOrderSampler):

    """Chainer's ``ShuffleOrderSampler`` (the same permutations from the same random state:
    ``permutation(n)`` is ``shuffle(arange(n))``) with each epoch's order in a memory-mapped
    file under ``directory``, so shuffling a data set larger than memory takes no memory per
    row. Two files alternate: the iterator may still read the previous order when it asks
    for the next one."""

    def __init__(self, random_state, directory, name='order'):
        super().__init__(random_state)
        self.directory, self.name = directory, name
        self._turn = 0

    def __call__(self, current_order, current_position):
        self._turn = 1 - self._turn
        order = _files.new_array(self.directory, '{}{}'.format(self.name, self._turn),
                                 (len(current_order),), numpy.int64)
        for start in range(0, len(order), 1 << 20):
            order[start:start + (1 << 20)] = numpy.arange(start, min(len(order),
                                                                     start + (1 << 20)))
        self._random.shuffle(order)
        return order


@chainer.dataset.converter()
def send_batch(batch, device):
    """The converter of :class:`BatchIterator`'s batches: each array to ``device``."""
    if device is None:  # an updater given no device: the arrays stay where they are
        return batch
    if isinstance(batch, tuple):
        return tuple(device.send(a) for a in batch)
    return device.send(batch)


@dataclasses.dataclass(frozen=True)
class Schedule:

    """How a phase's optimiser (MomentumSGD) steps and when it snapshots: minibatch size
    (this process's share under MPI), lr x ``lr_gamma`` every ``lr_step`` iterations, an
    optional momentum ramp, the bias lr multiplier, weight decay, and snapshots every
    ``snapshot_interval`` iterations and at least every ``snapshot_seconds``."""

    batchsize: int
    lr: float
    momentum: float
    lr_step: int = 20000
    lr_gamma: float = 0.1
    momentum_ramp: int = 0
    bias_lr_mult: float = 1.0
    weight_decay: float = 0.0
    snapshot_interval: int = 2000
    snapshot_seconds: float = 120.0

    @classmethod
    def pretraining(cls, config, batchsize, lr=None):
        """An autoencoder stage's (at ``lr``: ``config.lr`` unless backed off)."""
        return cls(batchsize, config.lr if lr is None else lr, config.momentum,
                   config.lr_step, config.lr_gamma, config.momentum_ramp,
                   config.bias_lr_mult, config.weight_decay, config.snapshot_interval,
                   config.snapshot_seconds)

    @classmethod
    def dec(cls, config, batchsize):
        """The DEC phase's: ``dec_lr``, ``dec_momentum``, its own snapshot interval."""
        return cls(batchsize, config.dec_lr, config.dec_momentum, config.lr_step,
                   config.lr_gamma, snapshot_interval=config.dec_snapshot_interval
                   or config.snapshot_interval, snapshot_seconds=config.snapshot_seconds)


@dataclasses.dataclass(frozen=True)
class Reporting:

    """What a phase logs (every ``log_interval`` iterations) and shows (a progress bar
    every ``progress_interval``, a PrintReport of ``print_keys``), and how its divergence
    error names it (``phase``, ``divergence_hint``: a string or a callable giving one)."""

    phase: str = 'training'
    log_interval: int = 1000
    progress_interval: int = 50
    print_keys: tuple = ()
    divergence_hint: object = ''


def make_trainer(target, dataset, schedule, out, seed, context=None, *, stop_trigger,
                 random_states=(), reporting=Reporting(), loss_func=None):
    """A MomentumSGD ``Trainer`` for ``target`` (a loss link) over ``dataset`` with
    ``schedule`` (the optimizer of :mod:`~dec_chainer.training.optimizers`: Chainer's,
    updating CPU arrays in BLAS) on ``context``'s device.

    Extensions: the lr step decay, the momentum ramp and bias lr multiplier of
    ``schedule``, LogReport (with the lr), snapshots (the latest one kept;
    :func:`run_resumable` starts from it), the states of the minibatch order (seeded by
    ``seed``) and of the NumPy ``random_states`` the model draws from in those snapshots,
    a stop at the first non-finite loss
    (:class:`~dec_chainer.training.extensions.StopOnDivergence`), and with
    ``context.progress`` a progress bar and a PrintReport (``reporting``).
    ``loss_func``: what the updater minimises (default: ``target`` itself).

    With a communicator (``context.comm``, see :mod:`dec_chainer.distributed`):
    ``dataset`` is this rank's rows and ``schedule.batchsize`` its share of the global
    minibatch; rank 0's parameters are broadcast now and the gradients averaged over the
    ranks at every update (ChainerMN's multi-node optimizer; every update, the first
    included, steps); the logged loss is the mean over the ranks; the minibatch order is
    this rank's stream; every rank snapshots at the same iterations (rank 0 under ``out``,
    rank r > 0 under ``out/rank<r>``); only rank 0 logs and shows progress. With
    ``context.scratch`` the minibatch order of each epoch is a memory-mapped file there
    (:class:`FileShuffleOrderSampler`, the same order), for data larger than memory.
    """
    context = context or RunContext(progress=False)
    comm = context.comm
    order_rng = numpy.random.RandomState(distributed.rank_seed(seed, comm) % (2 ** 32))
    sampler = (chainer.iterators.ShuffleOrderSampler(order_rng) if context.scratch is None
               else FileShuffleOrderSampler(order_rng, context.scratch, 'order-' + '-'.join(
                   os.path.normpath(out).split(os.sep)[-2:])))  # e.g. order-pretrain-layer1
    iterator = BatchIterator(dataset, schedule.batchsize, repeat=True, order_sampler=sampler)
    optimizer = MomentumSGD(lr=schedule.lr, momentum=schedule.momentum)
    if comm is not None:
        import chainermn
        distributed.bcast_params(comm, target)
        optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(target)
    if comm is not None:
        # parameters already broadcast: record them, so the first update steps like every
        # other instead of only broadcasting (ChainerMN's default)
        optimizer.is_changed(target)
    if schedule.weight_decay:
        optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(schedule.weight_decay))
    set_bias_lr_mult(target, schedule.bias_lr_mult)
    updater = chainer.training.updaters.StandardUpdater(
        iterator, optimizer, converter=send_batch, device=context.device, loss_func=loss_func)
    if not context.root:  # rank 0 keeps its snapshots and log where one process does
        out = os.path.join(out, 'rank{}'.format(comm.rank))
    trainer = chainer.training.Trainer(updater, stop_trigger, out=out)
    _extend(trainer, schedule, reporting, context, [order_rng] + [
        rs for rs in random_states
        if isinstance(rs, (numpy.random.RandomState, numpy.random.Generator))])
    return trainer


def _extend(trainer, schedule, reporting, context, random_states):
    """The extensions of :func:`make_trainer`."""
    comm = context.comm
    trainer.extend(StepDecay('lr', schedule.lr_gamma, schedule.lr_step),
                   trigger=(1, 'iteration'))
    if schedule.momentum_ramp:
        trainer.extend(LinearRamp('momentum', (0.0, schedule.momentum),
                                  (0, schedule.momentum_ramp)), trigger=(1, 'iteration'))
    snapshot_trigger = SnapshotTrigger(schedule.snapshot_interval, schedule.snapshot_seconds,
                                       comm=comm)
    if comm is not None:  # before the divergence check and LogReport: the loss of all ranks
        import chainermn.extensions
        aggregator = chainermn.extensions.ObservationAggregator(comm, 'main/loss')
        aggregator.priority = extension.PRIORITY_WRITER + 30
        trainer.extend(aggregator, trigger=(1, 'iteration'))
    trainer.extend(StopOnDivergence(reporting.phase, reporting.divergence_hint,
                                    snapshot_trigger=snapshot_trigger))
    trainer.extend(RandomStateKeeper(random_states))
    # under MPI the two newest: a rank killed while writing one still shares the one before
    trainer.extend(extensions.snapshot(filename=SNAPSHOT_PREFIX + '{.updater.iteration}',
                                       savefun=_files.save_npz_uncompressed,
                                       n_retains=1 if comm is None else 2),
                   trigger=snapshot_trigger)
    if not context.root:
        return
    log_trigger = (reporting.log_interval, 'iteration')
    trainer.extend(extensions.observe_lr(), trigger=log_trigger)
    trainer.extend(extensions.LogReport(trigger=log_trigger))
    if context.progress:
        if reporting.print_keys:
            trainer.extend(extensions.PrintReport(list(reporting.print_keys)))
        trainer.extend(extensions.ProgressBar(update_interval=reporting.progress_interval))


def snapshot_iterations(out):
    """The iterations of the snapshots under ``out`` (a set)."""
    found = set()
    if os.path.isdir(out):
        for name in os.listdir(out):
            suffix = name[len(SNAPSHOT_PREFIX):]
            if name.startswith(SNAPSHOT_PREFIX) and suffix.isdigit():
                found.add(int(suffix))
    return found


def latest_snapshot(out, comm=None):
    """Path of the snapshot with the highest iteration under ``out``, or None.

    With a communicator: the highest iteration every rank holds a snapshot of (each rank
    passes its own ``out``), so all ranks resume from the same iteration.
    """
    found = snapshot_iterations(out)
    for other in distributed.allgather(comm, sorted(found)):
        found &= set(other)
    if not found:
        return None
    return os.path.join(out, SNAPSHOT_PREFIX + str(max(found)))


def run_resumable(trainer, context=None):
    """Load the latest snapshot in ``trainer.out`` (if any), then run the trainer.

    Loading before ``run`` (rather than Chainer's ``autoload``, which happens after other
    extensions' ``initialize``) lets every extension initialise from the restored state.
    Under MPI every rank loads its snapshot of the same iteration (:func:`latest_snapshot`).
    """
    comm = None if context is None else context.comm
    path = latest_snapshot(trainer.out, comm)
    if path is not None:
        _files.load_npz(path, trainer)
        if context is not None:
            context.log('[resume] {} at iteration {}'.format(path, trainer.updater.iteration))
    # Overflow in a diverging step is not a warning to scroll by: StopOnDivergence turns
    # the non-finite loss it leads to into one clear error. Errors propagate as they are
    # (no banner of Chainer's on stderr).
    with numpy.errstate(over='ignore', invalid='ignore'):
        trainer.run(show_loop_exception_msg=False)
    return trainer
