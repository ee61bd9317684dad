"""DEC's links: the denoising autoencoders and the clustering model."""

from dec_chainer.links.autoencoder import DenoisingAutoEncoder  # noqa: F401
from dec_chainer.links.autoencoder import ReconstructionLoss  # noqa: F401
from dec_chainer.links.autoencoder import StackedDenoisingAutoEncoder  # noqa: F401
from dec_chainer.links.dec import DeepEmbeddedClustering  # noqa: F401
from dec_chainer.links.dec import map_batches  # noqa: F401
from dec_chainer.links.dec import soft_assignment_batches  # noqa: F401
