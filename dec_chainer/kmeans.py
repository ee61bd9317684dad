"""k-means with restarts (scikit-learn's ``KMeans``), reproducible from one seed.

Used for the raw-pixel baseline and to initialise DEC's centroids (20 restarts, as in the
paper) on the embedding of all points.
"""

import numpy
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin

from dec_chainer.validation import check_array, check_n_clusters
from dec_chainer.errors import UserError


def kmeans(X, n_clusters, n_init=20, random_state=0, max_iter=300):
    """Best of ``n_init`` k-means++ runs by inertia (``KMeans(n_init=n_init)``).

    Returns:
        tuple: ``(centers, labels, inertia)`` with float32 ``centers`` of shape
        (n_clusters, d) (``X`` is checked and cast to float32 first, as training uses it),
        int64 ``labels`` of shape (n,) and the float inertia.
    """
    X = check_array(X, name='X')
    n_clusters = check_n_clusters(n_clusters, X.shape[0])
    if n_init < 1:
        raise UserError('n_init must be at least 1; got {}'.format(n_init))
    km = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter,
                random_state=random_state).fit(X)
    return (km.cluster_centers_.astype(X.dtype), km.labels_.astype(numpy.int64),
            float(km.inertia_))


def nearest_centroid(Z, centers):
    """The index of the nearest of ``centers`` (Euclidean) for each row of ``Z`` (int64)."""
    return pairwise_distances_argmin(Z, centers).astype(numpy.int64)
