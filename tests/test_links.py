import numpy
import pytest

import chainer

from dec_chainer.functions import soft_assignment
from dec_chainer.links import (DeepEmbeddedClustering, DenoisingAutoEncoder,
                               ReconstructionLoss, StackedDenoisingAutoEncoder)


def test_sdae_structure_and_activations():
    numpy.random.seed(0)
    sdae = StackedDenoisingAutoEncoder((20, 16, 12, 8, 3))
    assert len(sdae) == 4 and sdae.embedding_size == 3
    assert [p.encoder.W.shape for p in sdae] == [(16, 20), (12, 16), (8, 12), (3, 8)]
    # ReLU everywhere except the embedding and the reconstruction of the input
    assert [p.encoder_activation for p in sdae] == [True, True, True, False]
    assert [p.decoder_activation for p in sdae] == [False, True, True, True]
    x = numpy.random.randn(50, 20).astype(numpy.float32)
    with chainer.using_config('train', False):
        z = sdae.encode(x).array
        h2 = sdae.encode(x, depth=2).array
        y = sdae(x).array
    assert z.shape == (50, 3) and (z < 0).any()          # linear embedding
    assert h2.shape == (50, 12) and (h2 >= 0).all()      # ReLU codes
    assert y.shape == (50, 20) and (y < 0).any()         # linear reconstruction


def test_normal_init_scale_and_zero_biases():
    numpy.random.seed(0)
    sdae = StackedDenoisingAutoEncoder((784, 500, 10))
    W = sdae[0].encoder.W.array
    assert abs(W.std() - 0.01) < 0.0005 and abs(W.mean()) < 0.0005
    assert all((p.array == 0).all() for p in sdae.params() if p.ndim == 1)


def test_uniform_init_bounds():
    numpy.random.seed(0)
    sdae = StackedDenoisingAutoEncoder((400, 100, 10), init='uniform')
    for pair in sdae:
        for lin in (pair.encoder, pair.decoder):
            bound = numpy.sqrt(1.0 / lin.W.shape[1])
            W = lin.W.array
            assert W.max() <= bound and W.min() >= -bound
            assert W.max() > 0.95 * bound and W.min() < -0.95 * bound


def test_dropout_placements():
    dims = (10, 8, 6, 4, 2)
    paper = StackedDenoisingAutoEncoder(dims, dropout_placement='paper')
    assert [p.input_dropout for p in paper] == [False, True, True, True]
    assert [p.hidden_dropout for p in paper] == [True, True, True, False]
    article = StackedDenoisingAutoEncoder(dims, dropout_placement='article')
    assert all(p.input_dropout and p.hidden_dropout for p in article)
    none = StackedDenoisingAutoEncoder(dims, dropout_placement='none')
    assert not any(p.input_dropout or p.hidden_dropout for p in none)


def test_denoising_pair_uses_dropout_only_in_train_mode():
    numpy.random.seed(0)
    dae = DenoisingAutoEncoder(30, 10, dropout=0.5)
    x = numpy.random.rand(40, 30).astype(numpy.float32)
    with chainer.using_config('train', False):
        clean = dae(x).array
        numpy.testing.assert_allclose(clean, dae.decode(dae.encode(x)).array, rtol=1e-6)
    with chainer.using_config('train', True):
        noisy = dae(x).array
    assert not numpy.allclose(noisy, clean)


def test_reconstruction_losses():
    numpy.random.seed(0)
    sdae = StackedDenoisingAutoEncoder((6, 4, 2))
    x = numpy.random.rand(5, 6).astype(numpy.float32)
    with chainer.using_config('train', False):
        y = sdae(x).array
        mse = float(((y - x) ** 2).mean())
        assert float(ReconstructionLoss(sdae, 'mse')(x).array) == pytest.approx(mse, rel=1e-5)
        assert float(ReconstructionLoss(sdae, 'half_mse')(x).array) == pytest.approx(
            mse / 2, rel=1e-5)
    with pytest.raises(ValueError, match='loss must be one of'):
        ReconstructionLoss(sdae, 'l1')


@pytest.mark.parametrize('kwargs, match', [
    (dict(dims=(10,)), 'dims needs'),
    (dict(dims=(10, 0, 3)), 'dims needs'),
    (dict(dims=(10, 3), dropout_placement='input'), 'dropout_placement'),
    (dict(dims=(10, 3), dropout=1.0), 'dropout must be'),
    (dict(dims=(10, 3), init='xavier'), 'init must be'),
])
def test_bad_autoencoder_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StackedDenoisingAutoEncoder(**kwargs)


def test_dec_link_dataset_passes_match_direct_computation():
    numpy.random.seed(0)
    sdae = StackedDenoisingAutoEncoder((12, 8, 3))
    centroids = numpy.random.randn(4, 3).astype(numpy.float32)
    model = DeepEmbeddedClustering(sdae, centroids, alpha=1.0)
    X = numpy.random.rand(103, 12).astype(numpy.float32)
    with chainer.using_config('train', False):
        z = sdae.encode(X).array
    q = soft_assignment(z, centroids).array
    # chunked (batches of 7) equals all at once, P uses f_j over the whole data set
    from dec_chainer import target_distribution
    from dec_chainer.functions import cluster_frequencies, target_distribution_batches

    def p_of(rows, share=None, labels=None):
        return target_distribution_batches(model.soft_assignment_batches(rows, 7),
                                           numpy.empty((len(rows), 4), numpy.float32),
                                           labels, share)

    labels = numpy.empty(len(X), numpy.int64)
    p_chunked = p_of(X, labels=labels)
    numpy.testing.assert_array_equal(p_chunked, target_distribution(q))  # one block: exact
    numpy.testing.assert_array_equal(labels, q.argmax(axis=1))
    # a part of the data set with the frequencies of the whole (data-parallel DEC): its
    # rows of the whole data set's P; with its own frequencies, other rows
    f_all = cluster_frequencies(q)
    numpy.testing.assert_allclose(p_of(X[:40], lambda f: f_all), p_chunked[:40], rtol=1e-6)
    skew = numpy.array([1, 2, 3, 4], numpy.float32)
    p_skew = p_of(X[:40], lambda f: f * skew)
    numpy.testing.assert_allclose(
        p_skew, target_distribution(q[:40], cluster_frequencies(q[:40]) * skew), rtol=1e-5)
    assert numpy.abs(p_skew - p_chunked[:40]).max() > 0.05
    labels = model.predict(X, batchsize=10)
    assert labels.dtype == numpy.int64
    numpy.testing.assert_array_equal(labels, q.argmax(axis=1))
    # the loss link: a scalar with gradients for the encoder and the centroids
    loss = model(X[:16], p_chunked[:16])
    loss.backward()
    assert model.centroids.grad is not None and sdae[0].encoder.W.grad is not None
    with pytest.raises(ValueError, match=r'centroids must have shape \(K, 3\)'):
        DeepEmbeddedClustering(sdae, numpy.zeros((4, 5)))


def test_target_distribution_of_a_million_points_in_bounded_memory():
    import tracemalloc
    from dec_chainer.functions import target_distribution_batches
    from dec_chainer.links import soft_assignment_batches
    n, d, width, K = 1000000, 8, 500, 10
    rng = numpy.random.RandomState(0)
    X = rng.rand(n, d).astype(numpy.float32)
    enc1 = chainer.links.Linear(d, width)
    enc2 = chainer.links.Linear(width, 5)

    def encode(x):
        return enc2(chainer.functions.relu(enc1(x)))

    centroids = rng.randn(K, 5).astype(numpy.float32)
    p, labels = numpy.empty((n, K), numpy.float32), numpy.empty(n, numpy.int64)
    tracemalloc.start()
    target_distribution_batches(soft_assignment_batches(encode, X, centroids, batchsize=8192),
                                p, labels)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    numpy.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-4)
    # the hidden layer of all points would be 2 GB; beyond p and the labels, a few blocks
    assert peak < 200 * 2 ** 20, peak / 2 ** 20
    # and the first rows agree with an all-at-once computation on them
    with chainer.no_backprop_mode():
        q_head = soft_assignment(encode(X[:1000]), centroids).array
    numpy.testing.assert_array_equal(labels[:1000], q_head.argmax(axis=1))
    assert numpy.abs(p[:1000] - q_head).max() > 1e-3  # P sharpened q
