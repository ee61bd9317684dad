"""Users' own data with the defaults: any common scaling fits, nothing fails silently, every
bad file or setting is one line naming it (issue 22)."""

import json
import os
import stat
import subprocess
import sys
import time
import warnings
import zipfile

import numpy
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from dec_chainer import DEC
from dec_chainer.cli import main
from dec_chainer.runs import (DegenerateClusteringWarning, EmbeddingBlowUpError,
                              check_embedding, degenerate_clustering)

from conftest import ROOT, quiet

#: The default estimator on a short schedule: nothing but the iteration counts changed.
SHORT = {'finetune_iters': 300, 'dec_max_iter': 300}


def fit_quietly(est, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)  # a short schedule may stop at its cap
        return est.fit(X, y)


@pytest.fixture(scope='module')
def iris():
    return load_iris(return_X_y=True)


@pytest.mark.slow
@pytest.mark.parametrize('name, transform', [
    ('standardised', lambda X: StandardScaler().fit_transform(X)),
    ('raw', lambda X: X),
    ('raw x 100 (values up to 790)', lambda X: X * 100),
])
def test_the_default_estimator_fits_iris_at_any_common_scale(iris, name, transform):
    """Standardised iris diverged at iteration 7 with the defaults, raw iris too. Now the
    run scales the data by a power of two (kept in the model) and a diverging stage backs
    off its learning rate: every scaling fits, with all three clusters, far above chance
    (ARI 0). Not as well as k-means on every BLAS kernel (k-means: ARI 0.62 standardised,
    0.73 raw; DEC on raw iris: 0.80 under SkylakeX, 0.44 under Haswell): the 2,000-wide
    autoencoder is made for images, not 150 rows of 4 features."""
    X, y = iris
    X = transform(X)
    est = fit_quietly(DEC(n_clusters=3, random_state=0, config=SHORT), X, y)
    sizes = numpy.bincount(est.labels_, minlength=3)
    assert sizes.min() >= 10, sizes
    assert adjusted_rand_score(y, est.labels_) > 0.4
    assert est.input_scale_ == 2.0 ** -int(numpy.ceil(numpy.log2(numpy.abs(X).max())))
    numpy.testing.assert_array_equal(est.predict(X), est.labels_)  # predict scales as fit did
    assert 'warnings' not in est.report_


def test_max_abs_rescaling_is_a_power_of_two_and_leaves_unit_data_alone():
    from dec_chainer.validation import rescale_factor
    assert rescale_factor(1.0, 'max_abs') == 1.0 == rescale_factor(0.996, 'max_abs')
    assert rescale_factor(3.1, 'max_abs') == 0.25 and rescale_factor(1000, 'max_abs') == 2 ** -10
    assert rescale_factor(1e-3, 'max_abs') == 512 and rescale_factor(0.0, 'max_abs') == 1.0
    assert rescale_factor(1000, 'none') == 1.0
    from dec_chainer.presets import PRESETS
    assert PRESETS['quick'].rescale == 'max_abs' and PRESETS['quick'].lr_backoff == 3
    for name in ('paper', 'article'):  # the published protocols: the data as given
        assert PRESETS[name].rescale == 'none' and PRESETS[name].lr_backoff == 0


def blobs(seed):
    X, y = make_blobs(50, random_state=seed)
    return StandardScaler().fit_transform(X).astype(numpy.float32), y


BLOBS = {'hidden_dims': (8, 8, 16, 3), 'finetune_iters': 300, 'dec_max_iter': 100,
         'update_interval': 5}


@pytest.mark.slow
@pytest.mark.parametrize('overrides', [{}, {'rescale': 'none', 'lr_backoff': 0}],
                         ids=['defaults', 'unscaled-no-backoff'])
def test_standardised_blobs_never_end_in_one_cluster_silently(overrides):
    """make_blobs(50, s), s = 0..11, standardised: with the default settings (and with the
    data unscaled and no back-off, where the encoder used to blow up to |z| ~ 5e10 with a
    finite loss and put all points in one cluster without a word) every fit either ends
    with three real clusters or says otherwise: a DegenerateClusteringWarning naming the
    sizes, or an error for the blow-up."""
    from dec_chainer import fit_dec
    from dec_chainer.presets import get_config
    from dec_chainer.training.extensions import DivergenceError
    config = get_config('quick', **dict(BLOBS, **overrides))
    for seed in range(12):
        X, y = blobs(seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                _, labels, report = fit_dec(X, y, 3, config, seed=0, context=quiet())
            except (EmbeddingBlowUpError, DivergenceError):
                continue
        sizes = numpy.bincount(labels, minlength=3)
        said = [w for w in caught if issubclass(w.category, DegenerateClusteringWarning)]
        if sizes.min() == 0 or sizes.max() >= 0.9 * len(X):
            assert said and str(sizes.tolist()) in str(said[0].message), (seed, sizes)
            assert report['warnings'] == [str(said[0].message)]


def test_dec_reaches_k_means_on_standardised_blobs():
    X, y = blobs(7)
    est = fit_quietly(DEC(n_clusters=3, random_state=0, dims=(8, 8, 16, 3),
                          config={k: v for k, v in BLOBS.items() if k != 'hidden_dims'}), X)
    km = adjusted_rand_score(y, KMeans(3, n_init=10, random_state=0).fit_predict(X))
    assert adjusted_rand_score(y, est.labels_) >= km


def test_degenerate_clustering_and_blow_up_are_named():
    km = numpy.array([0] * 20 + [1] * 15 + [2] * 15)
    assert degenerate_clustering(km, km, 3) is None
    msg = degenerate_clustering(numpy.array([0] * 49 + [1]), km, 3)
    assert ('1 of the 3 clusters are empty; cluster sizes [49, 1, 0] (k-means on the '
            'embedding, where DEC started: [20, 15, 15])') in msg
    msg = degenerate_clustering(numpy.array([0] * 46 + [1, 1, 2, 2]), km, 3)
    assert 'one cluster holds 92% of the points; cluster sizes [46, 2, 2]' in msg
    assert degenerate_clustering(numpy.array([0] * 44 + [1] * 4 + [2] * 2), km, 3) is None
    assert degenerate_clustering(numpy.zeros(50, int), numpy.zeros(50, int), 1) is None
    check_embedding(3e5, 'the DEC phase', 100.0)
    with pytest.raises(EmbeddingBlowUpError, match=r'during the DEC phase: .* \|z\| = 5e\+10'):
        check_embedding(5e10, 'the DEC phase', 3.0)
    with pytest.raises(EmbeddingBlowUpError, match='1e\\+05 times where it started'):
        check_embedding(1e5, 'the DEC phase', 1.0)


@pytest.mark.slow
def test_a_diverging_stage_backs_off_and_says_so(iris):
    """Raw iris left unscaled (values up to 7.9) diverges at lr 1.0 and 0.1 on every kernel
    (SkylakeX, Haswell, Sandybridge): the stage starts again from its initial weights at
    lr / 10 until it trains (0.01 on all three), and says so."""
    from dec_chainer import fit_dec
    from dec_chainer.presets import get_config
    logged = []
    X, _ = iris
    config = get_config('quick', rescale='none', **SHORT)
    _, labels, report = fit_dec(X.astype(numpy.float32), None, 3, config, seed=0,
                                context=quiet(logged.append))
    lr = report['pretrain']['finetune']['lr']
    assert lr in (pytest.approx(0.1), pytest.approx(0.01), pytest.approx(0.001))
    assert any('starting again from its initial weights with lr={:g}'.format(lr) in line
               for line in logged)
    assert len(numpy.unique(labels)) == 3


# -- the command line: one line naming the file or setting ------------------------------

def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_repeated_set_options_merge_in_order(tmp_path, capsys):
    code, out, _ = run_cli(['train', '--dataset', 'digits', '--dry-run', '--set',
                            'finetune_iters=7', 'dec_max_iter=9', '--set', 'dec_max_iter=11'],
                           capsys)
    assert code == 0
    assert 'fine-tuning 7 iterations' in out and 'at 11 iterations' in out


@pytest.mark.parametrize('setting, message', [
    ('momentum=-5', 'momentum must be in [0, 1); got -5'),
    ('dec_momentum=5', 'dec_momentum must be in [0, 1); got 5'),
    ('weight_decay=-1', 'weight_decay must be >= 0; got -1'),
    ('lr_gamma=-1', 'lr_gamma (the factor lr is multiplied by every lr_step iterations) '
                    'must be in (0, 1]'),
    ('bias_lr_mult=-1', 'bias_lr_mult must be >= 0'),
    ('pretrain_samples=0', 'pretrain_samples must be at least 1 or None'),
    ('lr_backoff=-1', 'lr_backoff must be >= 0'),
    ('rescale=minmax', "rescale must be one of ('none', 'max_abs')"),
    ('dec_batchsize=None', "(on the command line: dec_batchsize=null); got 'None'"),
])
def test_settings_out_of_range_are_refused_before_training(setting, message, capsys):
    code, _, err = run_cli(['train', '--dataset', 'digits', '--dry-run', '--set', setting],
                           capsys)
    assert code == 2 and err.count('\n') == 1 and message in err, err


def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    """User errors (dec_chainer.errors.UserError) are one line, with their traceback on
    request (--traceback, DEC_CHAINER_TRACEBACK=1); any other exception is a bug: it
    propagates with its traceback, even a ValueError."""
    bad = ['train', '--dataset', 'digits', '--dry-run', '--set', 'momentum=-5']
    code, _, err = run_cli(bad, capsys)
    assert code == 2 and err.count('\n') == 1 and 'Traceback' not in err
    code, _, err = run_cli(['--traceback'] + bad, capsys)
    assert code == 2 and 'Traceback (most recent call last)' in err and 'UserError' in err
    assert err.strip().splitlines()[-1].startswith('dec-chainer train: error: momentum')
    monkeypatch.setenv('DEC_CHAINER_TRACEBACK', '1')
    code, _, err = run_cli(bad, capsys)
    assert code == 2 and 'Traceback' in err
    monkeypatch.delenv('DEC_CHAINER_TRACEBACK')
    from dec_chainer import presets

    def broken(self):
        raise ValueError('an internal bug')

    monkeypatch.setattr(presets.DECConfig, 'validate', broken)
    with pytest.raises(ValueError, match='an internal bug'):
        main(bad)


def _zip_truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize('name, make, message', [
    ('empty.npy', lambda p: p.write_bytes(b''), 'the file is empty (0 bytes)'),
    ('empty.npz', lambda p: p.write_bytes(b''), 'the file is empty (0 bytes)'),
    ('cut.npz', lambda p: (numpy.savez(p, X=numpy.ones((50, 3))), _zip_truncated(p)),
     'not a readable .npz archive'),
    ('array.npz', lambda p: p.write_bytes(_npy_bytes()), 'name it .npy'),
    ('archive.npy', lambda p: p.write_bytes(_npz_bytes()), 'name it .npz'),
])
def test_bad_data_files_are_one_line(tmp_path, name, make, message, capsys):
    path = tmp_path / name
    make(path)
    code, _, err = run_cli(['train', '--dataset', str(path), '--out', str(tmp_path / 'r')],
                           capsys)
    assert code == 2 and err.count('\n') == 1, err
    assert str(path) in err and message in err


def _npy_bytes():
    import io
    f = io.BytesIO()
    numpy.save(f, numpy.ones((5, 3)))
    return f.getvalue()


def _npz_bytes():
    import io
    f = io.BytesIO()
    numpy.savez(f, X=numpy.ones((5, 3)))
    return f.getvalue()


TINY = ['hidden_dims=[16,8]', 'finetune_iters=30', 'dec_max_iter=20', 'update_interval=5',
        'kmeans_n_init=2']


@pytest.fixture(scope='module')
def small_run(tmp_path_factory):
    X, y = load_iris(return_X_y=True)
    root = tmp_path_factory.mktemp('users')
    data = root / 'iris.npz'
    numpy.savez(data, X=X, y=y)
    out = root / 'run'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert main(['train', '--dataset', str(data), '--no-progress', '--no-figures',
                     '--out', str(out), '--set'] + TINY) == 0
    return data, out


def _corrupt(path, how):
    if how == 'truncated':
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    elif how == 'empty':
        path.write_bytes(b'')
    else:
        path.write_bytes(b'this is not a zip archive at all')


@pytest.mark.parametrize('how', ['truncated', 'empty', 'not-a-zip'])
@pytest.mark.parametrize('command', ['predict', 'evaluate'])
def test_a_damaged_model_file_is_one_line(small_run, tmp_path, how, command, capsys):
    data, out = small_run
    model = tmp_path / 'model.npz'
    model.write_bytes((out / 'dec_model.npz').read_bytes())
    _corrupt(model, how)
    argv = [command, '--model', str(model)] + (
        ['--data', str(data), '--output', str(tmp_path / 'l.npy')] if command == 'predict'
        else ['--dataset', str(data)])
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count('\n') == 1 and str(model) in err, err
    with pytest.raises(ValueError, match='not a readable'):
        DEC.load(model)


@pytest.mark.parametrize('name', ['run.json', 'dec_result.json', 'metrics.json',
                                  'pretrain/finetune.json'])
def test_a_damaged_json_file_is_named(small_run, tmp_path, name, capsys):
    import shutil
    data, out = small_run
    copy = tmp_path / 'run'
    shutil.copytree(out, copy)
    _corrupt(copy / name, 'truncated')
    argv = (['plot', '--run', str(copy)] if name == 'metrics.json' else
            ['train', '--dataset', str(data), '--no-progress', '--no-figures', '--out',
             str(copy), '--set'] + TINY)
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count('\n') == 1, err
    assert str(copy / name) in err and 'is not readable JSON' in err


@pytest.mark.parametrize('name', ['kmeans.npz', 'dec_model.npz'])
def test_a_planted_pickle_is_refused_naming_the_file(small_run, tmp_path, name, capsys):
    import shutil
    data, out = small_run
    copy = tmp_path / 'run'
    shutil.copytree(out, copy)
    numpy.savez(copy / name, centroids=numpy.array([object()]), labels=numpy.zeros(3),
                **{'__dec_chainer_meta__': numpy.array([object()])})
    argv = (['predict', '--model', str(copy / name), '--data', str(data), '--output',
             str(tmp_path / 'l.npy')] if name == 'dec_model.npz' else
            ['train', '--dataset', str(data), '--no-progress', '--no-figures', '--out',
             str(copy), '--set'] + TINY)
    if name == 'kmeans.npz':
        os.remove(copy / 'model.npz')  # so the run reads its k-means result again
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count('\n') == 1, err
    assert str(copy / name) in err


def test_pretrained_from_a_damaged_source_names_the_source(small_run, tmp_path, capsys):
    import shutil
    data, out = small_run
    source = tmp_path / 'source'
    shutil.copytree(out, source)
    _corrupt(source / 'pretrain' / 'finetune.npz', 'truncated')
    argv = ['cluster', '--dataset', str(data), '--no-progress', '--no-figures',
            '--pretrained', str(source), '--out', str(tmp_path / 'new'), '--set'] + TINY
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count('\n') == 1, err
    assert str(source / 'pretrain' / 'finetune.npz') in err and 'pretrain again there' in err
    assert not (tmp_path / 'new' / 'pretrain' / 'finetune.npz').exists()  # nothing copied
    # the advice works: pretrain again in the source, then cluster from it
    os.remove(source / 'pretrain' / 'finetune.npz')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert main(['pretrain', '--dataset', str(data), '--no-progress', '--out',
                     str(source), '--set'] + TINY) == 0
        assert main(argv) == 0


def test_cluster_without_pretrained_says_it_pretrains(small_run, tmp_path, capsys):
    data, _ = small_run
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        code, out, _ = run_cli(['cluster', '--dataset', str(data), '--no-progress',
                                '--no-figures', '--out', str(tmp_path / 'c'), '--set'] + TINY,
                               capsys)
    assert code == 0 and 'pretraining it first, from scratch' in out
    assert 'model, metrics in' in out and 'figures' not in out.splitlines()[-1]


def test_leftovers_of_killed_writes_are_removed_and_files_keep_the_umask(small_run, tmp_path,
                                                                        capsys):
    import shutil
    data, out = small_run
    copy = tmp_path / 'run'
    shutil.copytree(out, copy)
    planted = [copy / '.model.npz.abcd1234.tmp', copy / 'pretrain' / '.finetune.json.x1y2z3w4.tmp',
               copy / 'dec' / 'logq1w2e3r4', copy / 'dec' / 'tmpsnapshot_iter_20abcd_123']
    for p in planted[:2]:
        p.write_bytes(b'half')
    for p in planted[2:]:
        p.mkdir()
        (p / 'log.json').write_text('[')
    (copy / 'keep.tmp').write_text('a file of the user')  # not a leftover of ours
    old = os.umask(0o022)
    try:
        os.remove(copy / 'metrics.json')
        assert main(['train', '--dataset', str(data), '--no-progress', '--no-figures',
                     '--out', str(copy), '--set'] + TINY) == 0
    finally:
        os.umask(old)
    assert not any(p.exists() for p in planted)
    assert (copy / 'keep.tmp').exists() and (copy / 'dec' / 'log').exists()
    mode = stat.S_IMODE(os.stat(copy / 'metrics.json').st_mode)
    assert mode == 0o644, oct(mode)


def test_predict_warns_on_data_far_outside_the_training_range(small_run, tmp_path, capsys):
    data, out = small_run
    X, _ = load_iris(return_X_y=True)
    est = DEC.load(out / 'dec_model.npz')
    X32 = X.astype(numpy.float32)  # as trained on
    assert est.input_range_ == (float(X32.min()), float(X32.max()))
    assert est.get_params()['config']['hidden_dims'] == (16, 8)
    fitted = fit_quietly(DEC(n_clusters=3, dims=(16, 8), random_state=0,
                             config={'finetune_iters': 30, 'dec_max_iter': 20}), X)
    fitted.save(tmp_path / 'm.npz')
    assert DEC.load(tmp_path / 'm.npz').get_params() == fitted.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        est.predict(X[:10])  # within the range: no warning
    from dec_chainer.estimator import InputRangeWarning
    with pytest.warns(InputRangeWarning, match=r'values in \[1, 79\], far outside the '
                                               r'range the model was fitted on, \[0.1, 7.9\]'):
        est.predict(X * 10)
    numpy.save(tmp_path / 'big.npy', X * 10)
    code, _, err = run_cli(['predict', '--model', str(out / 'dec_model.npz'), '--data',
                            str(tmp_path / 'big.npy'), '--output', str(tmp_path / 'l.npy')],
                           capsys)
    assert code == 0 and err.count('\n') == 1 and err.startswith('dec-chainer: warning: X')


def test_a_data_scale_warning_is_one_line(tmp_path, capsys):
    X, y = load_iris(return_X_y=True)
    numpy.save(tmp_path / 'big.npy', X * 1000)
    code, _, err = run_cli(['train', '--dataset', str(tmp_path / 'big.npy'), '--no-progress',
                            '--no-figures', '--out', str(tmp_path / 'r'), '--set',
                            'rescale=none', 'lr_backoff=0'] + TINY, capsys)
    assert code == 2
    lines = err.splitlines()
    assert lines[0].startswith('dec-chainer: warning: X holds values up to |x| = 7900')
    assert lines[1].startswith('dec-chainer train: error: pretraining') and len(lines) == 2


def console_script():
    return os.path.join(os.path.dirname(sys.executable), 'dec-chainer')


@pytest.mark.parametrize('delay', [0.3, 1.0, 3.0])
def test_ctrl_c_at_any_moment_is_one_line(delay, tmp_path):
    """SIGINT at any moment (Chainer and NumPy importing, the parser, training) ends in one
    line and exit status 130, never a traceback."""
    import signal
    proc = subprocess.Popen([console_script(), 'train', '--dataset', 'digits', '--no-progress',
                             '--out', str(tmp_path / 'r')], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.count('\n') == 1 and 'interrupted' in err, err
