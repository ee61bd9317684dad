import numpy
import pytest

matplotlib = pytest.importorskip('matplotlib')
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from dec_chainer.visualizations import (tsne_with_centroids, vis_confusion,  # noqa: E402
                                        vis_dec_curves, vis_embedding, vis_loss_curves)


def test_tsne_places_centroids_among_their_points():
    rng = numpy.random.RandomState(0)
    centers = rng.randn(3, 10) * 20
    Z = numpy.concatenate([c + rng.randn(100, 10) for c in centers])
    pts, cents, idx = tsne_with_centroids(Z, centers, n_points=150, random_state=0)
    assert pts.shape == (150, 2) and cents.shape == (3, 2) and len(set(idx)) == 150
    owner = idx // 100
    for j in range(3):
        # each triangle is nearer the mean of its own cluster's points than the others'
        means = numpy.array([pts[owner == k].mean(axis=0) for k in range(3)])
        assert numpy.argmin(((means - cents[j]) ** 2).sum(axis=1)) == j


def test_vis_functions_use_and_return_the_given_axes():
    fig, axes = plt.subplots(2, 2)
    rng = numpy.random.RandomState(0)
    ax = vis_embedding(rng.randn(30, 2), rng.randint(0, 10, 30), rng.randn(3, 2),
                       ax=axes[0, 0], title='t')
    assert ax is axes[0, 0]
    assert any(c.get_offsets().shape == (3, 2) for c in ax.collections)  # the triangles
    log = [{'iteration': i, 'main/loss': 1.0 / i} for i in range(1, 5)]
    assert vis_loss_curves({'finetune': log}, ax=axes[0, 1]) is axes[0, 1]
    assert len(axes[0, 1].lines) == 1
    dec_log = [{'iteration': i, 'dec/acc': 0.5, 'dec/nmi': 0.4, 'dec/label_change': 0.1}
               for i in (10, 20)]
    assert vis_dec_curves(dec_log, ax=axes[1, 0]) is axes[1, 0]
    assert len(axes[1, 0].lines) == 3
    ax = vis_confusion([0, 0, 1, 1, 2], [5, 5, 7, 7, 7], ax=axes[1, 1])
    assert ax is axes[1, 1] and 'ACC 0.800' in ax.get_title()
    plt.close(fig)


def test_vis_creates_axes_when_none_given():
    ax = vis_confusion([0, 1, 1], [1, 0, 0])
    assert ax is not None and ax.figure is not None
    plt.close(ax.figure)
