"""The two training phases on Chainer's Trainer, and the pipeline that runs them."""

from dec_chainer.training.clustering import train_dec  # noqa: F401
from dec_chainer.training.pipeline import build_autoencoder  # noqa: F401
from dec_chainer.training.pipeline import fit_dec  # noqa: F401
from dec_chainer.training.pretrain import pretrain_autoencoder  # noqa: F401
