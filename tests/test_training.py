"""Training phases: schedules, bias lr, convergence, exact resume, reproducibility."""

import os
import zipfile

import dataclasses

import numpy
import pytest

import chainer

import dec_chainer
from dec_chainer.datasets import load_digits
from dec_chainer.links import (DeepEmbeddedClustering, ReconstructionLoss,
                               StackedDenoisingAutoEncoder)
from dec_chainer.training import train_dec
from dec_chainer.training import Reporting, RunContext, Schedule
from dec_chainer.training._common import (latest_snapshot, make_trainer, run_resumable,
                                          stage_random_state)
from dec_chainer.training.extensions import (ConvergenceCheck, GradientScale,
                                             RefreshTargetDistribution)

from conftest import quiet

CPU = chainer.get_device('@numpy')
QUIET_CONTEXT = RunContext('@numpy', progress=False)


@pytest.fixture(scope='module')
def digits():
    return load_digits()


def small_sdae(n_in=64, seed=0, placement='paper'):
    return StackedDenoisingAutoEncoder((n_in, 32, 16, 4), dropout=0.2,
                                       dropout_placement=placement,
                                       rng=numpy.random.RandomState(seed))


def pretrain_trainer(sdae, X, out, n_iter, dropout_seed=None, **kw):
    """A trainer for the stack's first pair (the one with dropout) or, without
    ``dropout_seed``, for the whole stack."""
    target = sdae
    random_states = []
    if dropout_seed is not None:
        target = sdae[0]
        target.rng = stage_random_state(dropout_seed, 1, generator=True)  # as pretraining
        random_states = [target.rng]
    loss = ReconstructionLoss(target, 'mse')
    schedule = Schedule(batchsize=32, lr=0.5, momentum=0.9, lr_step=15, lr_gamma=0.5,
                        momentum_ramp=10, bias_lr_mult=2.0, snapshot_interval=10)
    schedule = dataclasses.replace(schedule, **kw)
    return make_trainer(loss, X, schedule, str(out), 7, QUIET_CONTEXT,
                        stop_trigger=(n_iter, 'iteration'), random_states=random_states,
                        reporting=Reporting(log_interval=5))


def test_lr_and_momentum_schedules(tmp_path, digits):
    X = digits[0][:200]
    trainer = pretrain_trainer(small_sdae(), X, tmp_path, 31)
    opt = trainer.updater.get_optimizer('main')
    seen = {}

    @chainer.training.make_extension(trigger=(1, 'iteration'), priority=-1000)
    def record(t):
        seen[t.updater.iteration] = (opt.lr, opt.momentum)

    trainer.extend(record)
    trainer.run()
    assert seen[1] == (0.5, pytest.approx(0.09))     # momentum ramps 0 -> 0.9 over 10
    assert seen[10][1] == pytest.approx(0.9) and seen[20][1] == pytest.approx(0.9)
    assert seen[14][0] == 0.5 and seen[15][0] == 0.25 and seen[30][0] == 0.125
    assert all(type(lr) is float and type(m) is float for lr, m in seen.values())


def test_bias_gets_twice_the_learning_rate():
    link = chainer.links.Linear(3, 2, initialW=0, initial_bias=0)
    opt = chainer.optimizers.SGD(lr=0.1)
    opt.setup(link)
    link.b.update_rule.add_hook(GradientScale(2.0))
    link.cleargrads()
    link.W.grad = numpy.ones((2, 3), numpy.float32)
    link.b.grad = numpy.ones(2, numpy.float32)
    opt.update()
    numpy.testing.assert_allclose(link.W.array, -0.1)
    numpy.testing.assert_allclose(link.b.array, -0.2)


def test_snapshots_come_at_least_every_few_minutes():
    """A schedule shorter than the snapshot interval is still snapshotted (by time), and the
    divergence check and the writer see one decision per iteration."""
    from dec_chainer.training.extensions import SnapshotTrigger

    class Trainer:
        class updater:
            iteration = 0

    now = [0.0]
    trig = SnapshotTrigger(interval=1000, seconds=120, clock=lambda: now[0])
    fired = []
    for it in range(1, 11):
        Trainer.updater.iteration = it
        now[0] += 50.0                       # 50 s per iteration
        first, second = trig(Trainer), trig(Trainer)
        assert first == second               # asked twice at one iteration: one answer
        fired.append(first)
    assert [i for i, f in zip(range(1, 11), fired) if f] == [3, 6, 9]
    Trainer.updater.iteration = 1000
    assert trig(Trainer)                     # and every interval


def params_of(link):
    return {name: p.array.copy() for name, p in link.namedparams()}


def assert_same_params(a, b):
    assert a.keys() == b.keys()
    for k in a:
        numpy.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_pretraining_resume_is_exact(tmp_path, digits):
    """40 iterations at once == 20, 'killed', then resumed to 40 (dropout included)."""
    X = digits[0][:300]
    whole = small_sdae(placement='article')
    run_resumable(pretrain_trainer(whole, X, tmp_path / 'whole', 40, dropout_seed=11))

    part = small_sdae(placement='article')
    run_resumable(pretrain_trainer(part, X, tmp_path / 'part', 20, dropout_seed=11))
    assert latest_snapshot(str(tmp_path / 'part')).endswith('snapshot_iter_20')
    with zipfile.ZipFile(latest_snapshot(str(tmp_path / 'part'))) as z:  # stored, not deflated
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    changed = params_of(part)
    assert not all(numpy.array_equal(changed[k], v) for k, v in params_of(whole).items())
    fresh = small_sdae(placement='article')  # a new process after the kill
    trainer = run_resumable(pretrain_trainer(fresh, X, tmp_path / 'part', 40,
                                             dropout_seed=11))
    assert trainer.updater.iteration == 40
    assert_same_params(params_of(fresh), params_of(whole))
    # the dropout stream matters: another seed for it gives other weights
    other = small_sdae(placement='article')
    run_resumable(pretrain_trainer(other, X, tmp_path / 'other', 40, dropout_seed=12))
    assert not numpy.array_equal(params_of(other)['/0/encoder/W'],
                                 params_of(whole)['/0/encoder/W'])


def test_dropout_draws_from_the_pair_stream_only():
    """With ``rng`` the masks come from it (16-bit integers against round(0.2 * 2**16)),
    and the global random state is neither read nor advanced."""
    pair = small_sdae(placement='article')[0]
    x = numpy.random.RandomState(0).rand(400, 64).astype(numpy.float32) + 0.5
    pair.rng = numpy.random.RandomState(5)
    before = numpy.random.get_state()
    h = pair._dropout(x, pair.rng).array
    after = numpy.random.get_state()
    assert before[2] == after[2] and numpy.array_equal(before[1], after[1])
    draws = numpy.random.RandomState(5).randint(0, 2 ** 16, size=x.shape, dtype=numpy.uint16)
    expected = numpy.where(draws >= 13107, x * numpy.float32(1.25), 0)
    numpy.testing.assert_array_equal(h, expected)
    assert h.dtype == numpy.float32
    assert abs((h == 0).mean() - 0.2) < 0.01           # 25,600 units, sd 0.0025
    with chainer.using_config('train', False):
        numpy.testing.assert_array_equal(pair._dropout(x, pair.rng).array, x)


def test_dropout_from_a_generator_reads_four_masks_per_64_bit_draw():
    """The pipeline's dropout streams (PCG64 Generators): each raw 64-bit output is four
    16-bit integers, compared with round(0.2 * 2**16); the global state is left alone."""
    pair = small_sdae(placement='article')[0]
    x = numpy.random.RandomState(0).rand(401, 64).astype(numpy.float32) + 0.5  # n % 4 != 0
    pair.rng = stage_random_state(3, 1, generator=True)
    assert isinstance(pair.rng, numpy.random.Generator)
    before = numpy.random.get_state()
    h = pair._dropout(x, pair.rng).array
    after = numpy.random.get_state()
    assert before[2] == after[2] and numpy.array_equal(before[1], after[1])
    raw = stage_random_state(3, 1, generator=True).bit_generator.random_raw(
        (x.size + 3) // 4)
    draws = numpy.stack([(raw >> (16 * i)) & 0xFFFF for i in range(4)], axis=1).ravel()
    expected = numpy.where(draws[:x.size].reshape(x.shape) >= 13107,
                           x * numpy.float32(1.25), 0)
    numpy.testing.assert_array_equal(h, expected)
    assert abs((h == 0).mean() - 0.2) < 0.01  # 25,664 units, sd 0.0025
    # the next mask continues the stream: not the same as the first
    assert not numpy.array_equal(pair._dropout(x, pair.rng).array == 0, h == 0)
    big = numpy.ones((1000, 1000), numpy.float32)
    assert abs((pair._dropout(big, pair.rng).array == 0).mean() - 0.2) < 0.002  # sd 0.0004


def test_random_state_keeper_restores_generators_and_random_states(tmp_path):
    from dec_chainer.training.extensions import RandomStateKeeper
    gen, legacy = numpy.random.Generator(numpy.random.PCG64(9)), numpy.random.RandomState(9)
    gen.bit_generator.random_raw(5), legacy.randint(10, size=3)
    path = str(tmp_path / 'rs.npz')
    chainer.serializers.save_npz(path, RandomStateKeeper([legacy, gen]))
    want = gen.bit_generator.random_raw(4), legacy.randint(1 << 30, size=4)
    gen2, legacy2 = numpy.random.Generator(numpy.random.PCG64(1)), numpy.random.RandomState(1)
    chainer.serializers.load_npz(path, RandomStateKeeper([legacy2, gen2]))
    got = gen2.bit_generator.random_raw(4), legacy2.randint(1 << 30, size=4)
    assert all(numpy.array_equal(a, b) for a, b in zip(want, got))


def test_dropout_gradient_uses_the_same_mask():
    pair = small_sdae(placement='article')[0]
    pair.rng = numpy.random.RandomState(1)
    x = chainer.Variable(numpy.ones((50, 64), numpy.float32))
    y = pair._dropout(x, pair.rng)
    y.grad = numpy.ones_like(y.array)
    y.backward()
    numpy.testing.assert_array_equal(x.grad, y.array)  # mask / (1 - ratio), as F.dropout


def dec_setup(digits, seed=0):
    X, y = digits
    sdae = small_sdae(seed=seed)
    rng = numpy.random.RandomState(seed)
    centroids = rng.randn(10, 4).astype(numpy.float32)
    return DeepEmbeddedClustering(sdae, centroids), X[:400], y[:400]


def test_dec_phase_resume_is_exact(tmp_path, digits):
    config = dec_chainer.get_config('quick', update_interval=4, snapshot_interval=6,
                                    dec_batchsize=64, tol=0.0)
    whole, X, y = dec_setup(digits)
    r = train_dec(whole, X, config.replace(dec_max_iter=30), str(tmp_path / 'w'),
                  seed=5, y=y, context=QUIET_CONTEXT)
    assert r['iterations'] == 30 and not r['converged']
    keys = r['log'][-1].keys()
    assert {'main/loss', 'dec/acc', 'dec/nmi', 'dec/ari', 'dec/label_change'} <= set(keys)

    part, _, _ = dec_setup(digits)
    train_dec(part, X, config.replace(dec_max_iter=18), str(tmp_path / 'p'), seed=5,
              context=QUIET_CONTEXT)
    fresh, _, _ = dec_setup(digits)
    numpy.random.seed(12345)
    r2 = train_dec(fresh, X, config.replace(dec_max_iter=30), str(tmp_path / 'p'),
                  seed=5, context=QUIET_CONTEXT)
    assert r2['iterations'] == 30
    assert_same_params(params_of(fresh), params_of(whole))


def test_stop_quantity_is_logged_and_kept_in_snapshots(tmp_path, digits):
    """``dec/stop_change`` (changes since the previous check, what is compared with tol)
    is logged at each check, and the trigger's last value survives a resume."""
    config = dec_chainer.get_config('quick', update_interval=4, check_interval=8,
                                    snapshot_interval=6, dec_batchsize=64, tol=0.0)
    whole, X, y = dec_setup(digits)
    r = train_dec(whole, X, config.replace(dec_max_iter=30), str(tmp_path / 'w'),
                  seed=5, y=y, context=QUIET_CONTEXT)
    logged = {e['iteration']: e for e in r['log']}
    assert [it for it, e in sorted(logged.items()) if 'dec/stop_change' in e] == [8, 16, 24]
    assert 'dec/label_change' in logged[12]        # per refresh: every 4 iterations
    assert r['last_change'] == logged[24]['dec/stop_change']

    part, _, _ = dec_setup(digits)
    train_dec(part, X, config.replace(dec_max_iter=18), str(tmp_path / 'p'), seed=5,
              context=QUIET_CONTEXT)
    fresh, _, _ = dec_setup(digits)               # resumes at 18, runs to 20: no check
    r2 = train_dec(fresh, X, config.replace(dec_max_iter=20), str(tmp_path / 'p'),
                  seed=5, context=QUIET_CONTEXT)
    assert r2['iterations'] == 20
    assert r2['last_change'] == logged[16]['dec/stop_change']


class _FakeRefresh(RefreshTargetDistribution):
    def __init__(self, n):  # labels set by hand; one process, in memory
        super().__init__(None, numpy.zeros(n), None, numpy.zeros(n, dtype=numpy.int64))


class _FakeTrainer:
    class updater:
        iteration = 0


def test_convergence_check_and_its_stop_trigger():
    refresh = _FakeRefresh(1000)
    check = ConvergenceCheck(refresh, tol=0.01, max_iter=100)
    stop, t = check.stop_trigger, _FakeTrainer()
    check.initialize(t)                       # remembers the start labels
    assert not stop(t) and stop.get_training_length() == (100, 'iteration')
    refresh.labels = refresh.labels.copy()
    refresh.labels[:500] = 1
    t.updater.iteration = 10                  # a check (the trainer calls it at multiples
    check(t)                                  # of check_interval)
    assert not stop(t) and check.last_change == 0.5 and check.checked_at == 10
    refresh.labels = refresh.labels.copy()
    refresh.labels[:9] = 2                    # 0.9 % changed < 1 %
    t.updater.iteration = 20
    assert not stop(t)                        # the trigger only reads the check
    check(t)
    assert stop(t) and check.converged and check.last_change == pytest.approx(0.009)
    never = ConvergenceCheck(_FakeRefresh(10), tol=0.0, max_iter=30)
    t.updater.iteration = 0
    never.initialize(t)
    t.updater.iteration = 30
    never(t)
    assert never.stop_trigger(t) and not never.converged   # stopped by max_iter


def tiny_config(**kw):
    base = dict(hidden_dims=(32, 32, 64, 6), finetune_iters=120, dec_max_iter=60,
                update_interval=20, kmeans_n_init=3, snapshot_interval=50, lr_step=100)
    base.update(kw)
    return dec_chainer.get_config('quick', **base)


def test_one_seed_repeats_exactly(digits, tmp_path):
    """One seed decides everything (init, dropout, order, k-means): the global random
    state neither changes the run nor is changed by it."""
    X, y = digits
    config = tiny_config(layerwise_iters=30, dropout_placement='article')
    runs = []
    for i in range(2):
        numpy.random.seed(100 + i)  # a caller's global state, different each time
        before = numpy.random.get_state()
        model, labels, _ = dec_chainer.fit_dec(X[:500], y[:500], 10, config,
                                            out=str(tmp_path / str(i)), seed=4,
                                            context=quiet())
        after = numpy.random.get_state()
        assert before[2] == after[2] and numpy.array_equal(before[1], after[1])
        runs.append((params_of(model), labels))
    assert_same_params(runs[0][0], runs[1][0])
    numpy.testing.assert_array_equal(runs[0][1], runs[1][1])
    other, _, _ = dec_chainer.fit_dec(X[:500], y[:500], 10, config, out=None, seed=5,
                                   context=quiet())
    assert not numpy.array_equal(params_of(other)['/centroids'], runs[0][0]['/centroids'])


# 30 iterations per stage at lr 0.1 may leave DEC with empty clusters, which it says (a
# DegenerateClusteringWarning, tested in test_users_data.py); not what this test is about.
@pytest.mark.filterwarnings('ignore::dec_chainer.runs.DegenerateClusteringWarning')
def test_layerwise_pretraining_and_rerun_loads_results(digits, tmp_path):
    X, y = digits
    config = tiny_config(layerwise_iters=30, finetune_iters=30, dec_max_iter=20,
                         update_interval=10, init='normal', lr=0.1, momentum_ramp=10)
    lines = []
    model, labels, report = dec_chainer.fit_dec(X[:300], y[:300], 10, config, out=str(tmp_path),
                                        seed=1, context=quiet(lines.append))
    assert set(report['pretrain']) == {'layer1', 'layer2', 'layer3', 'layer4', 'finetune'}
    for name in ('layer1.npz', 'layer4.npz', 'finetune.npz'):
        assert os.path.exists(tmp_path / 'pretrain' / name)
    assert report['metrics']['ae_kmeans'].keys() == {'acc', 'nmi', 'ari'}
    # a second call on the same directory trains nothing and gives the same model
    lines.clear()
    again, labels2, _ = dec_chainer.fit_dec(X[:300], y[:300], 10, config, out=str(tmp_path),
                                         seed=1, context=quiet(lines.append))
    # the fine-tuned autoencoder and DEC (the layer-wise pairs only started fine-tuning)
    assert sum('loaded' in line for line in lines) == 2
    assert_same_params(params_of(again), params_of(model))
    numpy.testing.assert_array_equal(labels2, labels)
    # a different configuration must not silently reuse that directory
    with pytest.raises(ValueError, match=r'different configuration or data \(differs in: '
                                         r'config\.dec_max_iter\)'):
        dec_chainer.fit_dec(X[:300], y[:300], 10, config.replace(dec_max_iter=21),
                            out=str(tmp_path), seed=1, context=quiet(lines.append))


@pytest.mark.parametrize('kwargs, match', [
    (dict(n_clusters=0), 'at least 1'),
    (dict(n_clusters=400), 'too few samples for the clusters'),
    (dict(y=numpy.zeros(5)), '5 labels for 300 samples'),
    (dict(config='fast'), "unknown preset 'fast'"),
])
def test_fit_dec_rejects_bad_input_before_training(digits, kwargs, match, tmp_path):
    X = digits[0][:300]
    args = dict(n_clusters=10, config=tiny_config(), out=str(tmp_path), context=quiet())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dec_chainer.fit_dec(X, **args)
    assert not os.path.exists(tmp_path / 'pretrain')  # nothing was trained


@pytest.mark.parametrize('rows', ['zeros', 'three'])
def test_identical_rows_are_refused_before_training(digits, rows, tmp_path):
    X = numpy.zeros((300, 64), numpy.float32)
    if rows == 'three':
        X[100:200], X[200:] = digits[0][0], digits[0][1]
    with pytest.raises(ValueError, match=r'X has {} distinct row\(s\), fewer than the 10 '
                                         r'clusters'.format(1 if rows == 'zeros' else 3)):
        dec_chainer.fit_dec(X, n_clusters=10, config=tiny_config(), out=str(tmp_path),
                            context=quiet())
    assert not os.path.exists(tmp_path / 'pretrain')


def test_fit_dec_rejects_nan():
    X = numpy.random.rand(50, 4)
    X[3, 1] = numpy.nan
    with pytest.raises(ValueError, match='1 NaN'):
        dec_chainer.fit_dec(X, n_clusters=3, config=tiny_config(), context=quiet())


def test_loaded_run_reports_the_time_its_phases_took(digits, tmp_path):
    X, y = digits
    config = tiny_config()
    _, _, first = dec_chainer.fit_dec(X[:300], y[:300], 10, config, out=str(tmp_path), seed=2,
                                   context=quiet())
    _, _, again = dec_chainer.fit_dec(X[:300], y[:300], 10, config, out=str(tmp_path), seed=2,
                                   context=quiet())
    assert again['pretrain']['finetune']['loaded']
    assert again['seconds']['pretrain'] == first['seconds']['pretrain'] > 0
    assert again['seconds']['dec'] == first['seconds']['dec'] > 0
    assert again['seconds']['kmeans'] == pytest.approx(first['seconds']['kmeans'], abs=0.05)


def test_pretraining_divergence_stops_at_once_and_names_the_cause(digits, tmp_path):
    """Unscaled data with the quick preset's lr 1.0: the loss overflows. The run stops at
    the first non-finite loss, names the phase, iteration, lr and data scale, saves no
    autoencoder, and never blames the (finite) data."""
    from dec_chainer.training.extensions import DivergenceError
    X, y = digits
    config = tiny_config(finetune_iters=200, rescale='none', lr_backoff=0)
    from dec_chainer.runs import DataScaleWarning
    with pytest.raises(DivergenceError) as e, \
            pytest.warns(DataScaleWarning, match=r'up to \|x\| = 1000, but .* lr=1.0 .*'
                                                 r'MinMaxScaler'):
        dec_chainer.fit_dec(X[:500] * 1000.0, None, 10, config, out=str(tmp_path), seed=0,
                            context=quiet())
    msg = str(e.value)
    assert 'pretraining (end-to-end fine-tuning) diverged at iteration' in msg
    assert 'lr=1 ' in msg and 'max |x| = 1000)' in msg and 'The data is finite' in msg
    it = int(msg.split('iteration ')[1].split(':')[0])
    assert it < 200
    assert not os.path.exists(tmp_path / 'pretrain' / 'finetune.npz')


def test_dec_phase_divergence_stops_at_once(digits, tmp_path):
    from dec_chainer.training.extensions import DivergenceError
    X, y = digits
    with pytest.raises(DivergenceError, match=r'the DEC phase diverged at iteration \d+: the '
                                              r'loss is nan.*dec_lr=1e\+30'):
        dec_chainer.fit_dec(X[:500], y[:500], 10, tiny_config(dec_lr=1e30),
                            out=str(tmp_path), seed=0, context=quiet())
    assert not os.path.exists(tmp_path / 'model.npz')


def test_batch_iterator_matches_serial_iterator(digits):
    """The same batches, in the same order and epochs, as Chainer's SerialIterator with the
    same order sampler (so snapshots and results are unchanged), gathered in one copy."""
    from dec_chainer.training._common import BatchIterator, send_batch
    X = digits[0][:100]
    ours = BatchIterator(X, 32, order_sampler=chainer.iterators.ShuffleOrderSampler(
        numpy.random.RandomState(3)))
    theirs = chainer.iterators.SerialIterator(
        X, 32, order_sampler=chainer.iterators.ShuffleOrderSampler(numpy.random.RandomState(3)))
    for _ in range(10):                               # across three epoch boundaries
        numpy.testing.assert_array_equal(ours.next(), numpy.stack(theirs.next()))
        assert ours.epoch_detail == theirs.epoch_detail
    pairs = chainer.datasets.TupleDataset(X, numpy.zeros((len(X), 4), numpy.float32))
    x, p = send_batch(BatchIterator(pairs, 8, shuffle=False).next(), CPU)
    assert x.shape == (8, 64) and p.shape == (8, 4)
    assert send_batch(x, None) is x
