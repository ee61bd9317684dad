"""Data larger than memory: a float32 ``.npy`` stays memory-mapped from loading to labels,
the per-row arrays of a run go to files, and k-means can run on a subset of the rows.

Peak memory against file size is measured by ``scripts/bench_mpi.py --memory`` (1 to 16 GB
files), not here: these tests check that the disk-backed path is the one taken and that it
computes what the in-memory path computes.
"""

import subprocess
import sys

import numpy
import pytest

import chainer

from dec_chainer import _files, validation
from dec_chainer.datasets import load_array, load_dataset
from dec_chainer.evaluations import eval_clustering
from dec_chainer.kmeans import kmeans
from dec_chainer.runs import fit_dec
from dec_chainer.presets import get_config
from dec_chainer.training import build_autoencoder
from dec_chainer.links import map_batches

from conftest import quiet


def test_a_float32_npy_is_memory_mapped_and_read_only(tmp_path):
    numpy.save(tmp_path / 'a.npy', numpy.random.RandomState(0).rand(50, 4).astype('f4'))
    X, y = load_array(tmp_path / 'a.npy')
    assert validation.is_memory_mapped(X) and not X.flags.writeable and y is None
    numpy.save(tmp_path / 'b.npy', numpy.random.RandomState(0).rand(50, 4))  # float64
    X, _ = load_array(tmp_path / 'b.npy')
    assert not validation.is_memory_mapped(X) and X.dtype == numpy.float32


def test_the_checks_go_a_block_of_rows_at_a_time(monkeypatch):
    """NaN/inf are found and counted across blocks, with the right first row."""
    monkeypatch.setattr(validation, 'CHUNK_ELEMENTS', 12)  # 3 rows of 4 per block
    X = numpy.zeros((20, 4), numpy.float32)
    X[14, 1], X[17, 0], X[19, 3] = numpy.nan, numpy.inf, numpy.nan
    with pytest.raises(ValueError, match=r'2 NaN and 1 infinite values \(first in row 14\)'):
        validation.check_array(X)
    X = numpy.arange(40, dtype=numpy.float32).reshape(10, 4) - 25
    assert validation.max_abs(X) == 25.0
    assert len(list(validation.row_blocks(X, 12))) == 4


SMALL = ['hidden_dims=[32,32,64,10]', 'layerwise_iters=100', 'finetune_iters=600',
         'dec_max_iter=200', 'update_interval=40', 'kmeans_n_init=2']


@pytest.mark.slow
def test_a_memory_mapped_npy_clusters_as_the_same_data_in_memory(tmp_path):
    """The digits as a float32 .npy (memory-mapped: layer-wise codes, P and labels in
    files under the run's scratch directory, removed at the end) and as an .npz (in
    memory) end with the same labels: one algorithm for every pass."""
    X, y = load_dataset('digits')
    numpy.save(tmp_path / 'digits.npy', X)
    numpy.savez(tmp_path / 'digits.npz', X=X)

    def train(data, out):
        r = subprocess.run([sys.executable, '-m', 'dec_chainer', 'train', '--dataset',
                            str(tmp_path / data), '--clusters', '10', '--out',
                            str(tmp_path / out), '--no-progress', '--no-figures', '--set']
                           + SMALL, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return numpy.load(tmp_path / out / 'labels.npy')

    on_disk, in_memory = train('digits.npy', 'disk'), train('digits.npz', 'memory')
    numpy.testing.assert_array_equal(on_disk, in_memory)
    assert eval_clustering(y, on_disk)['acc'] > 0.5  # a clustering of the digits
    import json
    with open(tmp_path / 'disk' / 'metrics.json') as f:
        assert json.load(f)['data_on_disk'] is True
    with open(tmp_path / 'memory' / 'metrics.json') as f:
        assert 'data_on_disk' not in json.load(f)
    assert not (tmp_path / 'disk' / 'scratch').exists()


def test_kmeans_on_a_subset_gives_every_row_its_nearest_centroid(tmp_path):
    X, y = load_dataset('digits')
    lines = []
    config = get_config('quick', hidden_dims=(32, 32, 64, 10), finetune_iters=600,
                        dec_max_iter=1, kmeans_n_init=2, kmeans_samples=600)
    run = fit_dec(X, y, 10, config, out=str(tmp_path / 'run'), seed=1, context=quiet(lines.append))
    assert any('embedding of 600 points of 1797' in line for line in lines)
    with numpy.load(tmp_path / 'run' / 'kmeans.npz') as f:
        labels, centroids = f['labels'], f['centroids']
    assert labels.shape == (1797,) and centroids.shape == (10, 10)
    sdae = build_autoencoder(X.shape[1], config)  # the embedding k-means saw
    _files.load_npz(str(tmp_path / 'run' / 'pretrain' / 'finetune.npz'), sdae)
    Z = map_batches(sdae.encode, X, 512, chainer.get_device('@numpy'))
    d = ((Z[:, None, :] - centroids[None]) ** 2).sum(-1)
    assert (labels == d.argmin(axis=1)).mean() > 0.999
    # about as good as k-means on every row of the same embedding
    _, all_rows, _ = kmeans(Z, 10, n_init=2, random_state=0)
    assert run.report['metrics']['ae_kmeans']['acc'] >= \
        eval_clustering(y, all_rows)['acc'] - 0.05
    with pytest.raises(ValueError, match='kmeans_samples must be at least 1'):
        get_config('quick', kmeans_samples=0)


def test_file_order_sampler_draws_the_permutations_of_chainers(tmp_path):
    """Epoch orders in memory-mapped files are Chainer's ShuffleOrderSampler's orders, and
    the iterator over them gives the same minibatches."""
    import chainer
    from dec_chainer.training._common import BatchIterator, FileShuffleOrderSampler
    X = numpy.arange(50, dtype=numpy.float32)[:, None]

    def batches(sampler):
        it = BatchIterator(X, 16, order_sampler=sampler)
        return numpy.concatenate([next(it)[:, 0] for _ in range(12)])  # ~4 epochs

    ours = FileShuffleOrderSampler(numpy.random.RandomState(7), str(tmp_path))
    theirs = chainer.iterators.ShuffleOrderSampler(numpy.random.RandomState(7))
    numpy.testing.assert_array_equal(batches(ours), batches(theirs))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['order0.npy', 'order1.npy']


def test_kmeans_rows_are_distinct_and_seeded():
    from dec_chainer.runs import kmeans_rows
    config = get_config('quick', kmeans_samples=1000)
    rows = kmeans_rows(10 ** 9, config, seed=3)  # no array of a billion indices
    assert len(rows) == len(numpy.unique(rows)) == 1000 and rows.max() < 10 ** 9
    numpy.testing.assert_array_equal(rows, kmeans_rows(10 ** 9, config, seed=3))
    assert not numpy.array_equal(rows, kmeans_rows(10 ** 9, config, seed=4))
    assert kmeans_rows(1000, config, seed=3) is None  # all rows
    assert len(numpy.unique(kmeans_rows(1500, config, seed=3))) == 1000
