"""The article's figure: t-SNE of a random sample with the centroids as black triangles."""

import numpy

from dec_chainer.visualizations._mpl import new_axes


def tsne_with_centroids(Z, centroids, n_points=500, random_state=0, perplexity=30.0):
    """t-SNE (scikit-learn) of ``n_points`` random rows of ``Z`` together with the centroids.

    The centroids are embedded *with* the points, so a triangle sits among the points it
    attracts (the original repository drew them at unrelated places).

    Returns:
        tuple: (2-D coordinates of the sampled points, 2-D coordinates of the centroids,
        indices of the sampled rows).
    """
    from sklearn.manifold import TSNE
    Z = numpy.asarray(Z, dtype=numpy.float64)
    centroids = numpy.asarray(centroids, dtype=numpy.float64)
    rng = numpy.random.RandomState(random_state)
    idx = numpy.sort(rng.choice(len(Z), size=min(n_points, len(Z)), replace=False))
    both = numpy.concatenate([Z[idx], centroids])
    perplexity = min(perplexity, (len(both) - 1) / 3.0)
    Y = TSNE(n_components=2, perplexity=perplexity, init='pca',
             random_state=random_state).fit_transform(both)
    return Y[:len(idx)], Y[len(idx):], idx


def vis_embedding(points_2d, colors=None, centroids_2d=None, ax=None, title=None,
                  color_label='label'):
    """Scatter 2-D points coloured by ``colors`` (labels), centroids as black triangles."""
    ax = new_axes(ax)
    colors = numpy.zeros(len(points_2d), dtype=int) if colors is None else numpy.asarray(colors)
    sc = ax.scatter(points_2d[:, 0], points_2d[:, 1], c=colors, cmap='tab10', s=8,
                    vmin=-0.5, vmax=9.5 if colors.max() < 10 else None)
    if centroids_2d is not None:
        ax.scatter(centroids_2d[:, 0], centroids_2d[:, 1], marker='^', c='black', s=90,
                   edgecolors='white', linewidths=0.8, label='centroids')
        ax.legend(loc='best', fontsize=8)
    if colors.max() < 10:
        cb = ax.figure.colorbar(sc, ax=ax, ticks=range(10))
        cb.set_label(color_label)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax
