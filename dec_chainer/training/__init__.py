"""The two training phases on Chainer's Trainer: the autoencoder, then DEC."""

from dec_chainer.training.clustering import train_dec  # noqa: F401
from dec_chainer.training.pretrain import build_autoencoder  # noqa: F401
from dec_chainer.training.pretrain import pretrain_autoencoder  # noqa: F401
from dec_chainer.training._common import BatchIterator  # noqa: F401
from dec_chainer.training._common import make_trainer  # noqa: F401
from dec_chainer.training._common import send_batch  # noqa: F401
from dec_chainer.training._common import stage_random_state  # noqa: F401
from dec_chainer.training._common import Reporting  # noqa: F401
from dec_chainer.training._common import run_resumable  # noqa: F401
from dec_chainer.training._common import Schedule  # noqa: F401
from dec_chainer.training.context import RunContext  # noqa: F401
