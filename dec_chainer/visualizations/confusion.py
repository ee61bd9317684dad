"""Confusion matrix of clusters against classes, clusters reordered by Hungarian matching."""

from dec_chainer.evaluations import cluster_acc, contingency_matrix, match_clusters
from dec_chainer.visualizations._mpl import new_axes


def vis_confusion(y_true, y_pred, ax=None, title=None, class_names=None):
    """Rows: true classes; columns: clusters, each placed under the class it matched."""
    ax = new_axes(ax)
    counts, clusters, classes = contingency_matrix(y_true, y_pred)
    mapping = match_clusters(y_true, y_pred)
    class_pos = {c: i for i, c in enumerate(classes)}
    # matched clusters in the order of their classes, unmatched ones after
    order = sorted(range(len(clusters)), key=lambda k: (
        class_pos.get(mapping.get(clusters[k].item()), len(classes)), k))
    mat = counts[order].T
    im = ax.imshow(mat, cmap='Blues')
    ax.figure.colorbar(im, ax=ax)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([str(clusters[k]) for k in order], fontsize=8)
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels(class_names if class_names is not None else [str(c) for c in classes],
                       fontsize=8)
    ax.set_xlabel('cluster (matched order)')
    ax.set_ylabel('true class')
    big = mat.max() / 2 if mat.size else 0
    if mat.shape[0] * mat.shape[1] <= 400:
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                ax.text(j, i, str(mat[i, j]), ha='center', va='center', fontsize=6,
                        color='white' if mat[i, j] > big else 'black')
    ax.set_title(title or 'clusters vs classes (ACC {:.3f})'.format(cluster_acc(y_true, y_pred)))
    return ax
