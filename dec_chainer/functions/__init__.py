"""DEC's functions: the soft assignment, the KL loss and the target distribution."""

from dec_chainer.functions.dec_kl_divergence import dec_kl_divergence  # noqa: F401
from dec_chainer.functions.dec_kl_divergence import DECKLDivergence  # noqa: F401
from dec_chainer.functions.soft_assignment import soft_assignment  # noqa: F401
from dec_chainer.functions.soft_assignment import SoftAssignment  # noqa: F401
from dec_chainer.functions.target_distribution import cluster_frequencies  # noqa: F401
from dec_chainer.functions.target_distribution import target_distribution  # noqa: F401
from dec_chainer.functions.target_distribution import target_distribution_batches  # noqa: F401
