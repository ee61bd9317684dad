import os
import subprocess
import sys

import numpy
import pytest

from dec_chainer.cli import main
from dec_chainer.datasets import load_digits
from dec_chainer.evaluations import cluster_acc
from dec_chainer.kmeans import kmeans

from conftest import ROOT


@pytest.fixture(scope='module')
def digits():
    return load_digits()


def test_kmeans_on_digits_is_reproducible(digits):
    X, y = digits
    c1, l1, i1 = kmeans(X, 10, n_init=3, random_state=5)
    c2, l2, i2 = kmeans(X, 10, n_init=3, random_state=5)
    numpy.testing.assert_array_equal(l1, l2)
    assert i1 == i2 and c1.shape == (10, 64)
    # k-means on the digits' pixels: ~0.78 ACC; chance is 0.1
    assert cluster_acc(y, l1) > 0.65


def test_more_restarts_never_worse(digits):
    X, _ = digits
    inertias = [kmeans(X, 10, n_init=n, random_state=0)[2] for n in (1, 4)]
    assert inertias[1] <= inertias[0]


def test_kmeans_bad_input():
    with pytest.raises(ValueError, match='too few samples for the clusters: 3 samples'):
        kmeans(numpy.zeros((3, 2)), 5)
    with pytest.raises(ValueError, match='at least 1'):
        kmeans(numpy.zeros((3, 2)), 0)
    with pytest.raises(ValueError, match='NaN'):
        kmeans(numpy.array([[0.0, numpy.nan]] * 4), 2)


def console_script():
    return os.path.join(os.path.dirname(sys.executable), 'dec-chainer')


def test_console_script_version():
    r = subprocess.run([console_script(), '--version'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('dec-chainer 0.1.0 (chainer 7.8.1, numpy 2.')


def test_module_help():
    r = subprocess.run([sys.executable, '-m', 'dec_chainer', '--help'], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 0
    assert 'baseline' in r.stdout


def test_baseline_command_on_digits(tmp_path, capsys):
    out = tmp_path / 'm.json'
    assert main(['baseline', '--dataset', 'digits', '--n-init', '2',
                 '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'k-means (raw features)' in text and 'ACC' in text
    import json
    metrics = json.loads(out.read_text())
    assert metrics['n_samples'] == 1797 and metrics['n_clusters'] == 10
    assert metrics['acc'] > 0.65
    assert metrics['provenance']['command'].startswith('dec-chainer baseline --dataset digits')
    assert 'git_commit' in metrics['provenance'] and 'machine' in metrics['provenance']


def test_baseline_command_errors(tmp_path, capsys):
    assert main(['baseline', '--dataset', 'cifar']) == 2
    assert "unknown dataset 'cifar'" in capsys.readouterr().err
    p = tmp_path / 'few.npy'
    numpy.save(p, numpy.random.rand(3, 2))
    assert main(['baseline', '--dataset', str(p), '--clusters', '5']) == 2
    assert 'too few samples' in capsys.readouterr().err


TINY = ['hidden_dims=[32,32,64,6]', 'finetune_iters=100', 'dec_max_iter=40',
        'update_interval=20', 'kmeans_n_init=2']


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('cli') / 'run'
    assert main(['train', '--dataset', 'digits', '--no-progress', '--out', str(out),
                 '--seed', '3', '--set'] + TINY) == 0
    return out


def test_train_command_writes_run_directory(run_dir, capsys):
    import json
    metrics = json.loads((run_dir / 'metrics.json').read_text())
    assert metrics['seed'] == 3 and metrics['preset'] == 'quick'
    assert metrics['config']['hidden_dims'] == [32, 32, 64, 6]
    assert set(metrics['metrics']['dec']) == {'acc', 'nmi', 'ari'}
    assert metrics['provenance']['command'].startswith('dec-chainer train')
    assert set(metrics['seconds']) >= {'pretrain', 'kmeans', 'dec', 'total'}
    assert numpy.load(run_dir / 'labels.npy').shape == (1797,)
    for fig in ('tsne.png', 'curves.png', 'confusion.png', 'top.png'):
        assert (run_dir / 'figures' / fig).stat().st_size > 5000
    assert set(metrics['figures']) == {'tsne', 'curves', 'confusion', 'top'}
    # run again: everything is loaded, the same table comes out; --results also writes the
    # commit-ready report and the DEC log
    results = run_dir.parent / 'results'
    assert main(['train', '--resume', str(run_dir), '--dataset', 'digits', '--seed', '3',
                 '--no-progress', '--no-figures', '--results', str(results), '--set']
                + TINY) == 0
    text = capsys.readouterr().out
    import re
    assert 'AE + k-means' in text and re.search(r'DEC \((\d+) iterations', text)
    assert '[dec] loaded' in text
    report = json.loads((results / 'quick-digits-seed3.json').read_text())
    assert report['metrics'] == metrics['metrics'] and 'labels' not in report
    assert '--results' in report['provenance']['command']
    assert report['blas'] and report['versions']['chainer'] == '7.8.1'
    log = json.loads((results / 'quick-digits-seed3.dec_log.json').read_text())
    assert log[-1]['iteration'] == metrics['dec']['iterations']


def test_predict_evaluate_plot(run_dir, tmp_path, capsys):
    model = str(run_dir / 'dec_model.npz')
    assert main(['predict', '--model', model, '--data', 'digits', '--output',
                 str(tmp_path / 'l.npy'), '--proba']) == 0
    labels = numpy.load(tmp_path / 'l.npy')
    numpy.testing.assert_array_equal(labels, numpy.load(run_dir / 'labels.npy'))
    q = numpy.load(tmp_path / 'l_proba.npy')
    assert q.shape == (1797, 10)
    X, _ = load_digits()
    numpy.savetxt(tmp_path / 'new.csv', X[:5], delimiter=',')
    assert main(['predict', '--model', model, '--data', str(tmp_path / 'new.csv'),
                 '--output', str(tmp_path / 'l.csv'), '--proba']) == 0
    rows = numpy.loadtxt(tmp_path / 'l.csv', delimiter=',', skiprows=1)
    numpy.testing.assert_array_equal(rows[:, 0], labels[:5])
    numpy.testing.assert_allclose(rows[:, 1:], q[:5], rtol=1e-4, atol=1e-6)
    capsys.readouterr()
    assert main(['evaluate', '--model', model, '--dataset', 'digits']) == 0
    import json
    acc = json.loads((run_dir / 'metrics.json').read_text())['metrics']['dec']['acc']
    assert '{:.4f}'.format(acc) in capsys.readouterr().out
    for fig in ('tsne.png', 'top.png'):
        (run_dir / 'figures' / fig).unlink()
    assert main(['plot', '--run', str(run_dir), '--points', '200', '--device', '@numpy']) == 0
    assert (run_dir / 'figures' / 'tsne.png').exists() and (run_dir / 'figures' / 'top.png').exists()


def test_pretrain_then_cluster(tmp_path, capsys):
    pre = tmp_path / 'pre'
    assert main(['pretrain', '--dataset', 'digits', '--no-progress', '--out', str(pre),
                 '--set'] + TINY) == 0
    assert (pre / 'pretrain' / 'finetune.npz').exists() and not (pre / 'dec').exists()
    out = tmp_path / 'cl'
    assert main(['cluster', '--dataset', 'digits', '--no-progress', '--no-figures',
                 '--pretrained', str(pre), '--out', str(out), '--set'] + TINY
                + ['kernel=distance']) == 0
    text = capsys.readouterr().out
    assert 'reusing the autoencoder' in text and 'finetune: loaded' in text
    # a different pretraining configuration is refused
    assert main(['cluster', '--dataset', 'digits', '--pretrained', str(pre), '--out',
                 str(tmp_path / 'x'), '--set'] + TINY + ['finetune_iters=99']) == 2
    assert 'pretrained a different autoencoder (differs in: finetune_iters)' in \
        capsys.readouterr().err


def test_compare(tmp_path, capsys):
    out = tmp_path / 'cmp'
    assert main(['compare', '--dataset', 'digits', '--no-progress', '--out', str(out),
                 '--set', 'hidden_dims=[32,32,64,6]', 'layerwise_iters=20',
                 'finetune_iters=40', 'dec_max_iter=20', 'kmeans_n_init=2']) == 0
    text = capsys.readouterr().out
    assert 'paper' in text and 'article' in text and 'DEC ACC' in text
    import json
    rows = json.loads((out / 'compare.json').read_text())['rows']
    assert [r['preset'] for r in rows] == ['paper', 'article']
    assert all(0 <= r['acc'] <= 1 and 0 <= r['ae_nmi'] <= 1 for r in rows)
    metrics = json.loads((out / 'paper' / 'metrics.json').read_text())['metrics']
    assert rows[0]['ae_ari'] == metrics['ae_kmeans']['ari']
    assert (out / 'compare.md').exists()


@pytest.mark.parametrize('argv, message', [
    (['train', '--dataset', 'digits', '--set', 'dec_max_itr=3'], 'unknown setting'),
    (['train', '--dataset', 'digits', '--set', 'novalue'], 'not KEY=VALUE'),
    (['train', '--dataset', 'nothing.csv'], 'data file not found'),
    (['train', '--dataset', 'digits', '--clusters', '0'], 'at least 1'),
    (['predict', '--model', 'missing.npz', '--data', 'digits', '--output', 'a.npy'],
     'model file not found'),
    (['plot', '--run', 'no-such-run'], 'not a finished run directory'),
    (['compare', '--dataset', 'digits', '--set', 'update_interval=10'],
     'check_interval (5) must be a multiple of update_interval (10)'),
])
def test_command_errors(argv, message, capsys, tmp_path):
    argv = [a if not a.endswith(('.npz', '.npy')) else str(tmp_path / a) for a in argv]
    if argv[0] in ('train', 'compare'):
        argv += ['--out', str(tmp_path / 'r')]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_resume_with_other_settings_is_refused(run_dir, capsys):
    assert main(['train', '--resume', str(run_dir), '--dataset', 'digits', '--seed', '3',
                 '--set'] + TINY[:-1] + ['kmeans_n_init=3']) == 2
    assert 'different configuration or data (differs in: config.kmeans_n_init)' in \
        capsys.readouterr().err
    # how a run is kept (snapshot intervals) may change between a run and its resumption
    assert main(['train', '--resume', str(run_dir), '--dataset', 'digits', '--seed', '3',
                 '--no-progress', '--no-figures', '--set'] + TINY
                + ['snapshot_interval=7', 'dec_snapshot_interval=3']) == 0


def test_predict_rejects_wrong_feature_count(run_dir, tmp_path, capsys):
    numpy.save(tmp_path / 'x.npy', numpy.random.rand(4, 7))
    assert main(['predict', '--model', str(run_dir / 'dec_model.npz'), '--data',
                 str(tmp_path / 'x.npy'), '--output', str(tmp_path / 'o.npy')]) == 2
    assert 'x.npy has 7 features, but the model was fitted on 64' in capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['train', '--dataset', 'digits', '--dry-run', '--device', '5'], 'argument --device'),
    (['train', '--dataset', 'digits', '--dry-run', '--device', '@cupy:0'], 'argument --device'),
    (['train', '--dataset', 'digits', '--dry-run', '--device', '@nonsense'],
     'argument --device'),
])
def test_a_device_that_is_not_here_is_refused_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_predict_refuses_to_overwrite_its_input_or_write_to_a_directory(run_dir, tmp_path,
                                                                         capsys):
    X, _ = load_digits()
    data = tmp_path / 'x.npy'
    numpy.save(data, X[:5])
    model = str(run_dir / 'dec_model.npz')
    assert main(['predict', '--model', model, '--data', str(data), '--output',
                 str(data)]) == 2
    assert 'would overwrite an input file' in capsys.readouterr().err
    assert numpy.array_equal(numpy.load(data), X[:5])         # untouched
    (tmp_path / 'd.npy').mkdir()
    assert main(['predict', '--model', model, '--data', str(data), '--output',
                 str(tmp_path / 'd.npy')]) == 2
    assert 'is a directory' in capsys.readouterr().err


def test_read_only_or_full_disks_end_in_one_line(run_dir, tmp_path, monkeypatch, capsys):
    """A directory that cannot be written is found before anything is computed; a disk
    that fills while writing ends in one line too, never a traceback."""
    import errno
    from dec_chainer import _files, cli
    from dec_chainer.estimator import DEC
    model = str(run_dir / 'dec_model.npz')
    real_tempfile = cli.tempfile.TemporaryFile

    def read_only(*a, **k):
        raise OSError(errno.EROFS, 'Read-only file system')

    def never(*a, **k):
        raise AssertionError('computed before checking the output directory')

    monkeypatch.setattr(cli.tempfile, 'TemporaryFile', read_only)
    monkeypatch.setattr(DEC, 'predict_proba', never)
    assert main(['predict', '--model', model, '--data', 'digits', '--output',
                 str(tmp_path / 'l.npy')]) == 2
    assert 'cannot write to {}: Read-only file system'.format(tmp_path) in \
        capsys.readouterr().err
    assert main(['plot', '--run', str(run_dir)]) == 2
    assert 'cannot write to {}'.format(run_dir) in capsys.readouterr().err
    assert main(['predict', '--model', model, '--data', 'digits', '--output',
                 str(tmp_path / 'missing' / 'l.npy')]) == 2
    assert 'no such directory' in capsys.readouterr().err
    monkeypatch.undo()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(cli.tempfile, 'TemporaryFile', real_tempfile)
    monkeypatch.setattr(_files, 'atomic_write', full)
    assert main(['predict', '--model', model, '--data', 'digits', '--output',
                 str(tmp_path / 'l.npy')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'No space left on device' in err


def test_ctrl_c_ends_in_one_line(monkeypatch, capsys):
    import dec_chainer.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, '_run_baseline', interrupted, raising=False)
    parser = cli.build_parser()
    args = parser.parse_args(['baseline', '--dataset', 'digits'])
    monkeypatch.setattr(cli, 'build_parser', lambda: _Fixed(parser, args, interrupted))
    assert cli.main(['baseline', '--dataset', 'digits']) == 130
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'interrupted' in err


class _Fixed:
    def __init__(self, parser, args, func):
        self.parser, self.args = parser, args
        args.func = func

    def parse_args(self, argv):
        return self.args

    def print_help(self):
        self.parser.print_help()
