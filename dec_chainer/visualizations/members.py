"""The paper's Figure 3: each cluster's most confident members, as images."""

import numpy

from dec_chainer.visualizations._mpl import pyplot


def top_members(q, n=10):
    """(K, n) row indices: for each cluster j, the ``n`` rows of highest ``q[:, j]``, the
    most confident first."""
    q = numpy.asarray(q)
    n = min(n, len(q))
    top = numpy.argpartition(-q, n - 1, axis=0)[:n].T
    return numpy.take_along_axis(top, numpy.argsort(-q[top, numpy.arange(q.shape[1])[:, None]],
                                                    axis=1), axis=1)


def vis_top_members(X, q, image_shape, n=10, ax=None, title=None):
    """A grid of images, one row per cluster: its ``n`` most confident members (rows of
    ``X``, shaped ``image_shape``), as in the paper's Figure 3."""
    rows = top_members(q, n)
    h, w = image_shape
    grid = numpy.ones((rows.shape[0] * (h + 1), rows.shape[1] * (w + 1)), numpy.float32)
    X = numpy.asarray(X, numpy.float32)
    low, high = float(X[rows].min()), float(X[rows].max())
    for j, members in enumerate(rows):
        for i, r in enumerate(members):
            grid[j * (h + 1):j * (h + 1) + h, i * (w + 1):i * (w + 1) + w] = \
                (X[r].reshape(h, w) - low) / max(high - low, 1e-12)
    if ax is None:
        _, ax = pyplot().subplots(figsize=(0.5 * rows.shape[1] + 1, 0.5 * rows.shape[0] + 1))
    ax.imshow(grid, cmap='gray_r', vmin=0, vmax=1, interpolation='nearest')
    ax.set_yticks([j * (h + 1) + h / 2 for j in range(rows.shape[0])])
    ax.set_yticklabels(['cluster {}'.format(j) for j in range(rows.shape[0])], fontsize=7)
    ax.set_xticks([])
    ax.set_title(title or 'the {} most confident members of each cluster (highest q)'.format(
        rows.shape[1]), fontsize=9)
    return ax
