"""k-means with restarts (scikit-learn), reproducible from one seed, with a progress bar.

Used for the raw-pixel baseline and to initialise DEC's centroids (20 restarts, as in the
paper) on the embedding of all points.
"""

import numpy

from dec_chainer.progress import ProgressBar
from dec_chainer.validation import check_array, check_n_clusters


def kmeans(X, n_clusters, n_init=20, random_state=0, max_iter=300, progress=False,
           desc='k-means'):
    """Best of ``n_init`` k-means++ runs by inertia.

    Equivalent to ``sklearn.cluster.KMeans(n_init=n_init)``, run one restart at a time so a
    progress bar can follow it; restart ``i`` is seeded from ``random_state``.

    Returns:
        tuple: ``(centers, labels, inertia)`` with float ``centers`` of shape
        (n_clusters, d), int64 ``labels`` of shape (n,) and the float inertia.
    """
    from sklearn.cluster import KMeans
    X = check_array(X, name='X')
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    if n_init < 1:
        raise ValueError('n_init must be at least 1; got {}'.format(n_init))
    seeds = numpy.random.RandomState(random_state).randint(0, 2 ** 31 - 1, size=n_init)
    best = None
    with ProgressBar(n_init, desc, enabled=progress) as bar:
        for seed in seeds:
            km = KMeans(n_clusters=n_clusters, n_init=1, max_iter=max_iter,
                        random_state=int(seed)).fit(X)
            if best is None or km.inertia_ < best.inertia_:
                best = km
            bar.update()
    return (best.cluster_centers_.astype(X.dtype), best.labels_.astype(numpy.int64),
            float(best.inertia_))
