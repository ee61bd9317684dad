"""Figures (matplotlib, imported lazily). Each ``vis_*`` takes an optional ``ax`` and returns it."""

from dec_chainer.visualizations._mpl import save as save_figure  # noqa: F401
from dec_chainer.visualizations.confusion import vis_confusion  # noqa: F401
from dec_chainer.visualizations.curves import vis_dec_curves  # noqa: F401
from dec_chainer.visualizations.curves import vis_loss_curves  # noqa: F401
from dec_chainer.visualizations.curves import vis_n_clusters  # noqa: F401
from dec_chainer.visualizations.embedding import tsne_with_centroids  # noqa: F401
from dec_chainer.visualizations.embedding import vis_embedding  # noqa: F401
from dec_chainer.visualizations.members import top_members  # noqa: F401
from dec_chainer.visualizations.members import vis_top_members  # noqa: F401
