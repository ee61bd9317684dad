import dataclasses
import re

import pytest

import dec_chainer
from dec_chainer.presets import ARTICLE, PAPER, PRESETS, QUICK, DECConfig, get_config


def test_paper_preset_is_the_faithful_protocol():
    c = PAPER
    assert c.hidden_dims == (500, 500, 2000, 10)
    assert (c.layerwise_iters, c.finetune_iters, c.dropout) == (50000, 100000, 0.2)
    assert (c.batchsize, c.lr, c.momentum, c.lr_step, c.lr_gamma) == (256, 0.1, 0.9, 20000,
                                                                     0.1)
    assert (c.weight_decay, c.momentum_ramp, c.bias_lr_mult) == (0.0, 1000, 2.0)
    assert (c.scale, c.ae_loss, c.dropout_placement) == ('caffe', 'half_mse', 'paper')
    assert (c.kmeans_n_init, c.alpha, c.kernel, c.dec_lr, c.update_interval, c.tol) == (
        20, 1.0, 'squared', 0.01, 160, 0.001)
    assert (c.pretrain_samples, c.cluster_samples) == (60000, None)


def test_article_preset_differs_where_the_repository_does():
    c = ARTICLE
    assert c.kernel == 'distance' and c.dec_batchsize is None
    assert (c.update_interval, c.check_interval, c.dec_max_iter) == (1, 5, 30)
    assert (c.dropout_placement, c.ae_loss, c.scale) == ('article', 'mse', 'unit')
    assert (c.pretrain_samples, c.cluster_samples) == (60000, 60000)
    assert (c.momentum_ramp, c.bias_lr_mult) == (0, 1.0)
    # snapshots every 5 of its 30 full-batch DEC steps, not every 5 pretraining iterations
    assert (c.snapshot_interval, c.dec_snapshot_interval) == (2000, 5)


def test_quick_preset():
    c = QUICK
    assert (c.layerwise_iters, c.init, c.lr, c.ae_loss) == (0, 'uniform', 1.0, 'mse')
    assert (c.scale, c.pretrain_samples, c.cluster_samples) == ('unit', None, None)
    assert c.finetune_iters > 0 and c.dec_max_iter > 0


def test_overrides_and_round_trip():
    c = get_config('quick', dec_max_iter=7, hidden_dims=(8, 4))
    assert c.dec_max_iter == 7 and c.hidden_dims == (8, 4)
    assert DECConfig.from_dict(c.to_dict()) == c
    assert PRESETS['quick'].dec_max_iter != 7  # presets are not modified
    assert dec_chainer.get_config is get_config


@pytest.mark.parametrize('overrides, match', [
    (dict(dec_max_itr=3), 'unknown setting'),
    (dict(kernel='gauss'), 'kernel must be one of'),
    (dict(alpha=0.0), 'alpha must be'),
    (dict(update_interval=0), 'update_interval must be at least 1'),
    (dict(update_interval=10, check_interval=15), 'multiple of update_interval'),
    (dict(tol=1.5), 'tol must be'),
    (dict(scale='255'), 'scale must be one of'),
    (dict(finetune_iters=-1), 'finetune_iters must be >= 0'),
    (dict(dec_batchsize=0), 'dec_batchsize'),
    (dict(lr=0), 'lr must be positive'),
])
def test_bad_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        get_config('paper', **overrides)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'fast'"):
        get_config('fast')


def test_article_choices_cover_every_difference_exactly_once():
    from dec_chainer.presets import ARTICLE, ARTICLE_CHOICES, PAPER
    keys = [k for ks in ARTICLE_CHOICES.values() for k in ks]
    assert len(keys) == len(set(keys))
    differing = {f.name for f in dataclasses.fields(DECConfig)
                 if getattr(ARTICLE, f.name) != getattr(PAPER, f.name)}
    bookkeeping = set(DECConfig.BOOKKEEPING)
    assert differing - bookkeeping == set(keys) - bookkeeping
    assert set(keys) <= differing


def test_article_ablation_switches_one_choice_at_a_time():
    from dec_chainer.presets import ARTICLE, ARTICLE_CHOICES, PAPER, article_ablation
    variants = article_ablation()
    assert variants[0] == ('article', {})
    assert [name for name, _ in variants[1:]] == list(ARTICLE_CHOICES)
    for name, switched in variants[1:]:
        config = ARTICLE.replace(**switched).validate()
        changed = {f.name for f in dataclasses.fields(DECConfig)
                   if getattr(config, f.name) != getattr(ARTICLE, f.name)}
        assert changed == set(ARTICLE_CHOICES[name])
        assert all(getattr(config, k) == getattr(PAPER, k) for k in changed)
    # a paper configuration with overrides passes them on (a capped DEC phase)
    capped = dict(article_ablation(ARTICLE, PAPER.replace(dec_max_iter=5000)))
    assert capped['dec_schedule']['dec_max_iter'] == 5000
    # choices where the two agree are left out
    same = article_ablation(ARTICLE, PAPER.replace(kernel='distance'))
    assert 'kernel' not in dict(same)


@pytest.mark.parametrize('override, message', [
    (dict(update_interval=7.5), 'update_interval must be an integer; got 7.5'),
    (dict(batchsize=2.5), 'batchsize must be an integer; got 2.5'),
    (dict(lr=True), 'lr must be a finite number; got True'),
    (dict(lr=float('inf')), 'lr must be a finite number; got inf'),
    (dict(momentum='abc'), "momentum must be a finite number; got 'abc'"),
    (dict(lr_gamma='abc'), "lr_gamma must be a finite number"),
    (dict(weight_decay='abc'), "weight_decay must be a finite number"),
    (dict(hidden_dims=10), 'hidden_dims must be a list of integer layer sizes'),
    (dict(hidden_dims=(8.5, 4)), 'hidden_dims must be a list of integer layer sizes'),
    (dict(dec_batchsize=25.5), 'dec_batchsize must be an integer or None'),
    (dict(kernel=3), 'kernel must be a string'),
])
def test_values_of_the_wrong_type_are_refused_not_coerced(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_config('quick', **override)


def test_set_values_are_parsed_strictly_on_the_command_line(capsys):
    from dec_chainer.cli import main
    for bad in ('lr=abc', 'update_interval=7.5', 'hidden_dims=10', 'lr=1e400', 'lr=true'):
        assert main(['train', '--dataset', 'digits', '--dry-run', '--set', bad]) == 2, bad
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and 'error: ' in err, err
