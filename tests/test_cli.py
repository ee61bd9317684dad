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
    with pytest.raises(ValueError, match='at least 2'):
        kmeans(numpy.zeros((3, 2)), 1)
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
    assert main(['baseline', '--dataset', 'digits', '--n-init', '2', '--no-progress',
                 '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'k-means (raw features)' in text and 'ACC' in text
    import json
    metrics = json.loads(out.read_text())
    assert metrics['n_samples'] == 1797 and metrics['n_clusters'] == 10
    assert metrics['acc'] > 0.65


def test_baseline_command_errors(tmp_path, capsys):
    assert main(['baseline', '--dataset', 'cifar']) == 2
    assert "unknown dataset 'cifar'" in capsys.readouterr().err
    p = tmp_path / 'few.npy'
    numpy.save(p, numpy.random.rand(3, 2))
    assert main(['baseline', '--dataset', str(p), '--clusters', '5']) == 2
    assert 'too few samples' in capsys.readouterr().err


TINY = ['hidden_dims=[32,32,64,6]', 'finetune_iters=100', 'dec_max_iter=40',
        'update_interval=20', 'kmeans_n_init=2']


def test_train_command_writes_metrics(tmp_path, capsys):
    import json
    out = tmp_path / 'run'
    assert main(['train', '--dataset', 'digits', '--no-progress', '--out', str(out),
                 '--seed', '3', '--set'] + TINY) == 0
    text = capsys.readouterr().out
    import re
    assert 'AE + k-means' in text and re.search(r'DEC \((20|40) iterations', text)
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['seed'] == 3 and metrics['preset'] == 'quick'
    assert metrics['config']['hidden_dims'] == [32, 32, 64, 6]
    assert set(metrics['metrics']['dec']) == {'acc', 'nmi', 'ari'}
    assert metrics['provenance']['command'].startswith('dec-chainer train')
    assert numpy.load(out / 'labels.npy').shape == (1797,)


@pytest.mark.parametrize('argv, message', [
    (['train', '--dataset', 'digits', '--set', 'dec_max_itr=3'], 'unknown setting'),
    (['train', '--dataset', 'digits', '--set', 'novalue'], 'not KEY=VALUE'),
    (['train', '--dataset', 'nothing.csv'], 'data file not found'),
])
def test_train_command_errors(argv, message, capsys, tmp_path):
    assert main(argv + ['--out', str(tmp_path / 'r')]) == 2
    assert message in capsys.readouterr().err
