"""The two training phases on Chainer's Trainer: the autoencoder, then DEC."""

from dec_chainer.training.clustering import train_dec  # noqa: F401
from dec_chainer.training.pretrain import build_autoencoder  # noqa: F401
from dec_chainer.training.pretrain import pretrain_autoencoder  # noqa: F401
