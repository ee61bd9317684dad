"""Evaluation of clusterings against known labels."""

from dec_chainer.evaluations.clustering import cluster_acc  # noqa: F401
from dec_chainer.evaluations.clustering import contingency_matrix  # noqa: F401
from dec_chainer.evaluations.clustering import eval_clustering  # noqa: F401
from dec_chainer.evaluations.clustering import match_clusters  # noqa: F401
