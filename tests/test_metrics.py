import itertools

import numpy
import pytest

from dec_chainer.evaluations import (cluster_acc, contingency_matrix, eval_clustering,
                                     match_clusters)


def brute_force_acc(y_true, y_pred):
    """Best injective cluster->class map by enumeration (small cases only)."""
    clusters = numpy.unique(y_pred)
    classes = numpy.unique(y_true)
    best = 0
    slots = list(classes) + [None] * len(clusters)  # None: cluster left unmatched
    for perm in set(itertools.permutations(slots, len(clusters))):
        used = [c for c in perm if c is not None]
        if len(used) != len(set(used)):
            continue
        mapping = dict(zip(clusters, perm))
        best = max(best, sum(mapping[p] == t for t, p in zip(y_true, y_pred)))
    return best / len(y_true)


def test_permuted_labelling_is_perfect():
    y = numpy.repeat(numpy.arange(5), 7)
    perm = numpy.array([3, 0, 4, 1, 2])
    y_pred = perm[y] + 10  # arbitrary cluster ids
    assert cluster_acc(y, y_pred) == 1.0
    m = eval_clustering(y, y_pred)
    assert m['acc'] == 1.0
    assert m['nmi'] == pytest.approx(1.0)
    assert m['ari'] == pytest.approx(1.0)
    assert match_clusters(y, y_pred) == {int(perm[c]) + 10: c for c in range(5)}


def test_known_confusion_matrix():
    # rows: clusters, columns: classes
    #            c0  c1  c2
    # cluster 0:  5   1   0
    # cluster 1:  0   2   6
    # cluster 2:  1   4   1
    counts = numpy.array([[5, 1, 0], [0, 2, 6], [1, 4, 1]])
    y_true, y_pred = [], []
    for k in range(3):
        for c in range(3):
            y_true += [c] * counts[k, c]
            y_pred += [k] * counts[k, c]
    got, clusters, classes = contingency_matrix(y_true, y_pred)
    numpy.testing.assert_array_equal(got, counts)
    # best matching: 0->c0 (5), 1->c2 (6), 2->c1 (4) = 15 of 20
    assert cluster_acc(y_true, y_pred) == 15 / 20
    assert match_clusters(y_true, y_pred) == {0: 0, 1: 2, 2: 1}


def test_more_clusters_than_classes():
    y_true = [0, 0, 0, 1, 1, 1]
    y_pred = [0, 0, 1, 2, 2, 3]
    # 0->0 (2 points), 2->1 (2 points); clusters 1 and 3 stay unmatched
    assert cluster_acc(y_true, y_pred) == 4 / 6


def test_fewer_clusters_than_classes():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 0, 0, 0, 1, 1]
    assert cluster_acc(y_true, y_pred) == 4 / 6


@pytest.mark.parametrize('seed', range(6))
def test_hungarian_matches_brute_force(seed):
    rng = numpy.random.RandomState(seed)
    n_classes, n_clusters = rng.randint(2, 5), rng.randint(2, 5)
    y_true = rng.randint(0, n_classes, 40)
    y_pred = rng.randint(0, n_clusters, 40)
    assert cluster_acc(y_true, y_pred) == pytest.approx(brute_force_acc(y_true, y_pred))


def test_random_labelling_scores_low():
    rng = numpy.random.RandomState(0)
    y = rng.randint(0, 10, 5000)
    m = eval_clustering(y, rng.randint(0, 10, 5000))
    assert m['acc'] < 0.15
    assert m['nmi'] < 0.01
    assert abs(m['ari']) < 0.01


@pytest.mark.parametrize('a, b, match', [
    ([0, 1], [0, 1, 1], 'y_true has 2 labels, y_pred has 3'),
    ([[0, 1]], [[0, 1]], 'must be 1-D'),
    ([], [], 'no labels'),
])
def test_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        eval_clustering(a, b)
