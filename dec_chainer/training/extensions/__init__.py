"""Trainer extensions of the two training phases."""

from dec_chainer.training.extensions.divergence import DivergenceError  # noqa: F401
from dec_chainer.training.extensions.divergence import StopOnDivergence  # noqa: F401
from dec_chainer.training.extensions.random_state import RandomStateKeeper  # noqa: F401
from dec_chainer.training.extensions.schedules import GradientScale  # noqa: F401
from dec_chainer.training.extensions.snapshot_trigger import SnapshotTrigger  # noqa: F401
from dec_chainer.training.extensions.schedules import LinearRamp  # noqa: F401
from dec_chainer.training.extensions.schedules import set_bias_lr_mult  # noqa: F401
from dec_chainer.training.extensions.schedules import StepDecay  # noqa: F401
from dec_chainer.training.extensions.convergence import ConvergenceCheck  # noqa: F401
from dec_chainer.training.extensions.refresh import ClusteringMetrics  # noqa: F401
from dec_chainer.training.extensions.refresh import RefreshTargetDistribution  # noqa: F401
