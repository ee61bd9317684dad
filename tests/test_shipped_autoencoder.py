"""A pretrained autoencoder shipped as a directory (scripts/ship_pretrained.py): any run
reuses it instead of pretraining, and refuses it if a file, the settings or the data
differ (issue 25, first part)."""

import importlib.util
import json
import os
import pathlib

import numpy
import pytest

import dec_chainer
from dec_chainer.datasets import load_digits

from conftest import ROOT, quiet

_spec = importlib.util.spec_from_file_location(
    'ship_pretrained', os.path.join(ROOT, 'scripts', 'ship_pretrained.py'))
ship_pretrained = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ship_pretrained)

# a DEC phase this short may empty clusters, which it says; not what these tests are about
pytestmark = pytest.mark.filterwarnings('ignore::dec_chainer.runs.DegenerateClusteringWarning')

TINY = dict(hidden_dims=(16, 16, 32, 4), layerwise_iters=20, finetune_iters=20,
            lr_step=1000, dec_max_iter=20, update_interval=10, kmeans_n_init=2,
            snapshot_interval=10, scale='unit', pretrain_samples=None)


@pytest.fixture(scope='module')
def shipped(tmp_path_factory):
    X, y = load_digits()
    X, y = X[:300], y[:300]
    root = tmp_path_factory.mktemp('ship')
    config = dec_chainer.get_config('paper', **TINY)
    first = dec_chainer.fit_dec(X, y, 4, config, out=str(root / 'run'), seed=2,
                                context=quiet())
    assert ship_pretrained.main(['--run', str(root / 'run'), '--out', str(root / 'ship')]) == 0
    return X, y, config, first.report, root / 'ship'


def test_a_shipped_autoencoder_replaces_pretraining(shipped, tmp_path):
    X, y, config, first, ship = shipped
    assert sorted(os.listdir(ship / 'pretrain')) == [
        'finetune.json', 'finetune.npz', 'layer1.json', 'layer2.json', 'layer3.json',
        'layer4.json']  # the weights of the fine-tuned stack only, every stage's record
    digests = json.loads((ship / 'digests.json').read_text())
    assert set(digests) == {'run.json', os.path.join('pretrain', 'finetune.npz')}
    lines = []
    _, _, report = dec_chainer.fit_dec(X, y, 4, config, out=str(tmp_path / 'r'), seed=2,
                                       context=quiet(lines.append), pretrained=str(ship))
    assert not any('iterations' in line and '[pretrain]' in line for line in lines)  # none trained
    assert report['pretrain']['finetune']['loaded']
    assert report['pretrain']['layer1'] == dict(first['pretrain']['layer1'], loaded=True)
    assert report['metrics']['ae_kmeans'] == first['metrics']['ae_kmeans']


def test_a_changed_file_other_settings_or_data_are_refused(shipped, tmp_path):
    import shutil
    X, y, config, _, ship = shipped
    with pytest.raises(ValueError, match='pretrained a different autoencoder '
                                         r'\(differs in: pretrain_data_blake2b\)'):
        dec_chainer.fit_dec(X[::-1].copy(), None, 4, config, out=str(tmp_path / 'a'), seed=2,
                            context=quiet(), pretrained=str(ship))
    with pytest.raises(ValueError, match=r'differs in: lr'):
        dec_chainer.fit_dec(X, None, 4, config.replace(lr=0.05), out=str(tmp_path / 'b'),
                            seed=2, context=quiet(), pretrained=str(ship))
    changed = tmp_path / 'changed'
    shutil.copytree(ship, changed)
    weights = changed / 'pretrain' / 'finetune.npz'
    data = bytearray(weights.read_bytes())
    data[-100] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r'finetune.npz: its BLAKE2b digest is not the one'):
        dec_chainer.fit_dec(X, None, 4, config, out=str(tmp_path / 'c'), seed=2,
                            context=quiet(), pretrained=str(changed))
    assert not (tmp_path / 'c' / 'pretrain').exists()


SHIPPED = os.path.join(ROOT, 'results', 'pretrained', 'paper-mnist-seed0')


@pytest.mark.skipif(not os.path.isdir(SHIPPED), reason='no shipped MNIST autoencoder')
def test_the_shipped_mnist_autoencoder_gives_the_committed_ae_kmeans(tmp_path):
    """On a fresh clone, the `paper` preset's full-schedule autoencoder (seed 0) gives the
    committed run's AE+k-means result without pretraining (within the rounding another BLAS
    kernel brings to the embedding and k-means)."""
    from dec_chainer.cli import main
    provenance = json.loads(pathlib.Path(SHIPPED, 'provenance.json').read_text())
    committed = json.loads(pathlib.Path(ROOT, 'results', 'paper',
                                        'paper-mnist-seed0.json').read_text())
    assert provenance['ae_kmeans'] == committed['metrics']['ae_kmeans']  # the same autoencoder
    assert main(['cluster', '--preset', 'paper', '--dataset', 'mnist', '--seed', '0',
                 '--no-progress', '--no-figures', '--pretrained', SHIPPED,
                 '--out', str(tmp_path / 'r'), '--set', 'dec_max_iter=1']) == 0
    report = json.loads((tmp_path / 'r' / 'metrics.json').read_text())
    assert report['pretrain']['finetune']['loaded']
    assert report['metrics']['ae_kmeans']['acc'] == pytest.approx(
        provenance['ae_kmeans']['acc'], abs=0.005)


def test_settings_are_compared_before_the_data_is_hashed(shipped, monkeypatch):
    """Looking for a reusable autoencoder among many runs costs no pass over the data for
    the runs whose settings differ (run_many compares every job with every finished run)."""
    from dec_chainer import runs
    X, _, config, _, ship = shipped
    hashed = []
    real = runs.data_fingerprint
    monkeypatch.setattr(runs, 'data_fingerprint',
                        lambda *a, **k: hashed.append(1) or real(*a, **k))
    assert runs.find_pretrained([str(ship)], config.replace(lr=0.05), 2, X) is None
    assert runs.find_pretrained([str(ship)], config, 3, X) is None  # another seed
    assert hashed == []
    assert runs.find_pretrained([str(ship)], config, 2, X) == str(ship)
    assert hashed == [1]
