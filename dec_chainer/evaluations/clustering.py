"""Clustering metrics: unsupervised accuracy (Hungarian matching), NMI and ARI. Pure NumPy."""

import numpy
from dec_chainer.errors import UserError


def _check_pair(y_true, y_pred):
    y_true = numpy.asarray(y_true)
    y_pred = numpy.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise UserError('labels must be 1-D; got shapes {} and {}'.format(
            y_true.shape, y_pred.shape))
    if y_true.shape != y_pred.shape:
        raise UserError('y_true has {} labels, y_pred has {}'.format(
            y_true.size, y_pred.size))
    if y_true.size == 0:
        raise UserError('no labels to compare')
    return y_true, y_pred


def contingency_matrix(y_true, y_pred):
    """Counts ``C[k, c]`` of points in cluster ``k`` (row) with class ``c`` (column).

    Returns the matrix and the sorted cluster and class values it is indexed by.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    classes, t = numpy.unique(y_true, return_inverse=True)
    clusters, p = numpy.unique(y_pred, return_inverse=True)
    counts = numpy.zeros((clusters.size, classes.size), dtype=numpy.int64)
    numpy.add.at(counts, (p, t), 1)
    return counts, clusters, classes


def match_clusters(y_true, y_pred):
    """One-to-one map from clusters to classes maximising the matched points (Hungarian).

    With more clusters than classes the surplus clusters stay unmatched (their points
    count as errors); with fewer, some classes get no cluster.

    Returns:
        dict: cluster value -> class value for the matched clusters.
    """
    from scipy.optimize import linear_sum_assignment
    counts, clusters, classes = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {clusters[r].item(): classes[c].item() for r, c in zip(rows, cols)}


def cluster_acc(y_true, y_pred):
    """Unsupervised clustering accuracy: the best one-to-one cluster-to-class matching.

    ``ACC = max_m (1/n) sum_i [y_true_i == m(y_pred_i)]`` over one-to-one maps ``m``, found
    with the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``).
    """
    from scipy.optimize import linear_sum_assignment
    counts, _, _ = contingency_matrix(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / float(counts.sum())


def eval_clustering(y_true, y_pred):
    """ACC, NMI (arithmetic normalisation, as scikit-learn's default) and ARI as a dict."""
    from sklearn.metrics import adjusted_rand_score
    from sklearn.metrics import normalized_mutual_info_score
    y_true, y_pred = _check_pair(y_true, y_pred)
    return {
        'acc': cluster_acc(y_true, y_pred),
        'nmi': float(normalized_mutual_info_score(y_true, y_pred)),
        'ari': float(adjusted_rand_score(y_true, y_pred)),
    }
