"""Phase 1: the stacked denoising autoencoder, layer-wise then end to end."""

import copy
import functools
import os
import shutil

import numpy

from dec_chainer import _files
from dec_chainer.links import ReconstructionLoss, StackedDenoisingAutoEncoder
from dec_chainer.training.extensions import DivergenceError
from dec_chainer.validation import max_abs
from dec_chainer.links.dec import map_batches
from dec_chainer.training._common import (Reporting, Schedule, make_trainer, run_resumable,
                                          stage_seed)
from dec_chainer.training.context import RunContext


def build_autoencoder(n_features, config, rng=None):
    """The autoencoder of ``config`` for ``n_features`` inputs, its weights drawn from
    ``rng`` (a ``numpy.random.RandomState``; None: a fixed one, for loading weights into)."""
    return StackedDenoisingAutoEncoder(
        (n_features,) + tuple(config.hidden_dims), dropout=config.dropout,
        dropout_placement=config.dropout_placement, init=config.init,
        init_scale=config.init_scale,
        rng=numpy.random.RandomState(0) if rng is None else rng)


#: Where a stage keeps the learning rate it backed off to (:data:`DECConfig.lr_backoff`).
BACKOFF_FILE = 'lr_backoff.json'


def _train_stage(autoencoder, data, config, n_iter, out, seed, context, rng=None,
                 phase='pretraining'):
    """Train one stage; with ``config.lr_backoff`` (one process), a stage that diverges
    starts again from its initial weights with lr / 10, at most that many times. ``rng``:
    the stream of a pair's dropout masks (None for the stack: no dropout)."""
    random_states = [] if rng is None else [rng]
    backoff = os.path.join(out, BACKOFF_FILE)
    attempt = _files.read_json(backoff)['attempt'] if os.path.exists(backoff) else 0
    tries = config.lr_backoff if context.processes == 1 else 0
    if attempt < tries:  # where the stage may start again: its initial state, kept
        initial = {name: param.array.copy() for name, param in autoencoder.namedparams()}
        rngs = [copy.deepcopy(rs) for rs in random_states]
    while True:
        lr = config.lr / 10 ** attempt
        try:
            return _train_stage_at(autoencoder, data, config, lr, n_iter, out, seed, context,
                                   rng, phase)
        except DivergenceError as e:
            if attempt >= tries:
                raise
            attempt += 1
            context.log('[pretrain] {}; starting again from its initial weights with lr={:g} '
                '(lr_backoff={})'.format(str(e).split('. ')[0], config.lr / 10 ** attempt,
                                         config.lr_backoff))
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            _files.write_json(backoff, {'attempt': attempt, 'lr': config.lr / 10 ** attempt,
                                        'reason': str(e)})
            for name, param in autoencoder.namedparams():
                param.array[...] = initial[name]
                param.cleargrad()
            for rs, saved in zip(random_states, rngs):  # the same masks as the first try
                _restore_random_state(rs, saved)


def _restore_random_state(rs, saved):
    if isinstance(rs, numpy.random.Generator):
        rs.bit_generator.state = saved.bit_generator.state
    elif isinstance(rs, numpy.random.RandomState):
        rs.set_state(saved.get_state())


def _train_stage_at(autoencoder, data, config, lr, n_iter, out, seed, context, rng, phase):
    loss = ReconstructionLoss(autoencoder, config.ae_loss, rng)
    loss.to_device(context.device)
    schedule = Schedule.pretraining(
        config, context.local_batchsize(config.batchsize), lr)
    reporting = Reporting(phase, log_interval=max(1, min(1000, n_iter // 10)),  # ~10 points
                          print_keys=('iteration', 'main/loss', 'lr', 'elapsed_time'),
                          divergence_hint=lambda: _scale_hint(data, lr))
    trainer = make_trainer(loss, data, schedule, out, seed, context,
                           stop_trigger=(n_iter, 'iteration'),
                           random_states=[] if rng is None else [rng], reporting=reporting)
    return run_resumable(trainer, context)


def _scale_hint(data, lr):
    return ('the learning rate lr={:g} is too large for inputs of this scale (max |x| = {:.4g}): '
            'scale the data to about [0, 1] (images: scale=\'unit\'; any data: '
            'rescale=\'max_abs\'), lower lr (--set lr=...) or let the stage back off '
            '(lr_backoff=3).'.format(lr, max_abs(data)))


def stage_info_path(npz_path):
    """Where a stage's iterations, final loss and training time are kept, beside its result."""
    return npz_path[:-4] + '.json'


def _save_stage_info(npz_path, trainer):
    log = trainer.get_extension('LogReport').log
    info = {'iterations': trainer.updater.iteration,
            'loss': log[-1].get('main/loss') if log else None,
            'seconds': round(trainer.elapsed_time, 2)}  # includes time before a resume
    backoff = os.path.join(trainer.out, BACKOFF_FILE)
    if os.path.exists(backoff):
        info['lr'] = _files.read_json(backoff)['lr']
    _files.write_json(stage_info_path(npz_path), info)
    return info


def _load_stage_info(npz_path):
    path = stage_info_path(npz_path)
    if not os.path.exists(path):
        return {}
    return dict(_files.read_json(path), loaded=True)


def pretrain_autoencoder(sdae, X, config, out, seed=0, context=None):
    """Greedy layer-wise denoising pretraining, then end-to-end fine-tuning (in place).

    Each pair ``k`` learns to reconstruct the clean codes of pairs ``< k`` from their
    dropout-corrupted version, for ``config.layerwise_iters`` iterations; then the whole
    stack is fine-tuned without dropout for ``config.finetune_iters`` iterations. A stage
    whose result file exists under ``out`` is loaded instead of trained, and a stage cut
    short resumes from its last snapshot. Minibatch order and dropout masks come from
    streams seeded by ``seed`` (:func:`~dec_chainer.training._common.stage_seed`).

    ``context`` (a :class:`~dec_chainer.training.context.RunContext`; default: the CPU,
    one process, in memory): under MPI ``X`` is this rank's rows, the stages train
    data-parallel (see :func:`~dec_chainer.training._common.make_trainer`), dropout masks
    come from each rank's own stream, and rank 0 alone reads and writes the stages'
    results (a loaded stage is broadcast from it); the returned dict is rank 0's. With a
    scratch directory the codes of the frozen lower pairs (the next pair's inputs) are
    memory-mapped files there (the disk space of ``X`` times the code width over the input
    width).

    Returns:
        dict: per stage, its iterations, final logged loss and training time in seconds
        (across resumptions; recorded beside the stage's result, so a loaded stage reports
        the time it took when it ran).
    """
    context = context or RunContext()
    stages = {}
    os.makedirs(out, exist_ok=True)

    def stage(name, link, train):
        """Load the stage's result, or train it and save it (its info first: the .npz,
        written last, says the stage is complete)."""
        path = os.path.join(out, name + '.npz')

        def load():
            if context.root:
                _files.load_npz(path, link)
                stages[name] = _load_stage_info(path)
            context.bcast_params(link)
            context.log('[pretrain] {}: loaded {}'.format(name, path))

        def compute():
            trainer = train(os.path.join(out, name))
            if context.root:
                stages[name] = _save_stage_info(path, trainer)
                _files.save_npz(path, link)

        context.load_or_compute(path, load, compute)

    finetuned = config.finetune_iters and context.exists(os.path.join(out, 'finetune.npz'))
    if config.layerwise_iters and finetuned:  # the fine-tuned result supersedes the pairs:
        for k in range(len(sdae)):            # their records only (a shipped autoencoder
            path = os.path.join(out, 'layer{}.npz'.format(k + 1))  # has none)
            if context.root and os.path.exists(stage_info_path(path)):
                stages['layer{}'.format(k + 1)] = _load_stage_info(path)
    elif config.layerwise_iters:
        data = X
        for k, pair in enumerate(sdae):
            stage('layer{}'.format(k + 1), pair, functools.partial(
                _train_pair, pair, k, data, config, seed, context))
            if k + 1 < len(sdae):  # two files: the input of this pair, the next one's
                codes = None if not context.on_disk else context.new_array(
                    'codes{}'.format(k % 2), (len(data), pair.encoder.out_size), numpy.float32)
                data = map_batches(pair.encode, data, config.eval_batchsize, context.device,
                                   out=codes)
    if config.finetune_iters:
        def finetune(stage_out):
            context.log('[pretrain] finetune: end to end {}, {} iterations'.format(
                '-'.join(map(str, sdae.dims)), config.finetune_iters))
            return _train_stage(sdae, X, config, config.finetune_iters, stage_out,
                                stage_seed(seed, 150), context,
                                phase='pretraining (end-to-end fine-tuning)')

        stage('finetune', sdae, finetune)
    return stages


def _train_pair(pair, k, data, config, seed, context, stage_out):
    """Layer-wise pretraining of pair ``k`` (0-based) on ``data``."""
    context.log('[pretrain] layer{}: {} -> {} -> {}, {} iterations'.format(
        k + 1, pair.encoder.in_size, pair.encoder.out_size, pair.encoder.in_size,
        config.layerwise_iters))
    return _train_stage(
        pair, data, config, config.layerwise_iters, stage_out, stage_seed(seed, 100 + k),
        context, rng=context.random_state(seed, k + 1, generator=True),
        phase='pretraining layer{}'.format(k + 1))
