"""The paper's protocols beyond its main table, on small data: DEC without backpropagation
(only the centroids move) and the imbalanced subsets of its Table 4."""

import numpy
import pytest

import dec_chainer
from dec_chainer import _files
from dec_chainer.datasets import imbalanced_subset, load_digits

from conftest import quiet


def test_imbalanced_subset_keeps_each_class_at_its_linear_rate():
    """Class 0 kept with r_min, the last class with 1, linearly in between, seeded."""
    y = numpy.repeat(numpy.arange(10), 20000)
    rows = imbalanced_subset(y, 0.1, seed=3)
    kept = numpy.bincount(y[rows], minlength=10) / 20000
    numpy.testing.assert_allclose(kept, numpy.linspace(0.1, 1.0, 10), atol=0.01)  # sd 0.0035
    assert kept[-1] == 1.0 and numpy.all(numpy.diff(rows) > 0)
    numpy.testing.assert_array_equal(rows, imbalanced_subset(y, 0.1, seed=3))
    assert not numpy.array_equal(rows, imbalanced_subset(y, 0.1, seed=4))
    # classes by their sorted values, whatever the labels are
    letters = numpy.array(list('ab'))[numpy.repeat([0, 1], 20000)]
    assert abs(len(imbalanced_subset(letters, 0.5)) - 30000) < 500
    assert len(imbalanced_subset(y, 1.0)) == len(y)
    with pytest.raises(ValueError, match=r'r_min .* must be in \(0, 1\]'):
        imbalanced_subset(y, 0.0)


def test_dec_without_backprop_moves_only_the_centroids(tmp_path):
    """dec_encoder='frozen' (the paper's "DEC w/o backprop"): after the DEC phase the
    encoder is the pretrained one, bit for bit, and the centroids have moved; with the
    default ('train') the encoder changes too."""
    X, y = load_digits()
    X, y = X[:400], y[:400]
    config = dec_chainer.get_config('quick', hidden_dims=(32, 32, 64, 10), finetune_iters=150,
                                    dec_max_iter=60, update_interval=20, kmeans_n_init=2)

    def encoder_moved(dec_encoder, out):
        model, _, report = dec_chainer.fit_dec(
            X, y, 10, config.replace(dec_encoder=dec_encoder), str(out), seed=1,
            context=quiet())
        pretrained = _files.read_arrays(str(out / 'pretrain' / 'finetune.npz'))
        weights = {k: v for k, v in pretrained.items() if '/encoder/' in '/' + k}
        assert weights and report['dec']['iterations'] > 0
        moved = [k for k, v in weights.items()
                 if not numpy.array_equal(getattr(model.autoencoder[int(k.split('/')[0])]
                                                  .encoder, k.split('/')[-1]).array, v)]
        start = _files.read_arrays(str(out / 'kmeans.npz'))['centroids']
        assert not numpy.array_equal(model.centroids.array, start)  # the centroids moved
        return moved

    assert encoder_moved('frozen', tmp_path / 'frozen') == []
    assert encoder_moved('train', tmp_path / 'train')


def test_cluster_seed_restarts_k_means_on_the_same_autoencoder(tmp_path):
    """cluster_seed: the paper's several k-means starts on one pretrained autoencoder. A
    run with another cluster_seed reuses the autoencoder (no pretraining: the settings that
    make it are unchanged) and starts k-means elsewhere; cluster_seed equal to the run's
    seed is the run itself, label for label."""
    X, y = load_digits()
    X = X[:300]
    config = dec_chainer.get_config('quick', hidden_dims=(32, 32, 64, 10), finetune_iters=100,
                                    dec_max_iter=20, update_interval=10, kmeans_n_init=1)
    base = dec_chainer.fit_dec(X, None, 10, config, str(tmp_path / 'base'), seed=0,
                               context=quiet())
    same = dec_chainer.fit_dec(X, None, 10, config.replace(cluster_seed=0),
                               str(tmp_path / 'same'), seed=0, context=quiet(),
                               pretrained=str(tmp_path / 'base'))
    other = dec_chainer.fit_dec(X, None, 10, config.replace(cluster_seed=1),
                                str(tmp_path / 'other'), seed=0, context=quiet(),
                                pretrained=str(tmp_path / 'base'))
    assert other.report['pretrained_from'] == str(tmp_path / 'base')
    numpy.testing.assert_array_equal(same.labels, base.labels)
    starts = [_files.read_arrays(str(tmp_path / name / 'kmeans.npz'))['centroids']
              for name in ('base', 'other')]
    assert not numpy.allclose(*starts)
    with pytest.raises(ValueError, match='cluster_seed must be >= 0'):
        dec_chainer.get_config('quick', cluster_seed=-1)
