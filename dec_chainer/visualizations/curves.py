"""Training curves from Chainer's LogReport entries (lists of dicts)."""

from dec_chainer.visualizations._mpl import new_axes


def vis_loss_curves(logs, ax=None, title='autoencoder pretraining'):
    """Reconstruction loss per stage; ``logs`` maps a stage name to its LogReport list."""
    ax = new_axes(ax)
    for name, log in logs.items():
        points = [(e['iteration'], e['main/loss']) for e in log if 'main/loss' in e]
        if points:
            ax.plot(*zip(*points), label=name)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_yscale('log')
    ax.legend(fontsize=8)
    ax.set_title(title)
    return ax


def vis_dec_curves(log, ax=None, title='DEC phase'):
    """ACC/NMI/ARI (when known) and the fraction of changed labels over DEC iterations."""
    ax = new_axes(ax)
    for key, label in (('dec/acc', 'ACC'), ('dec/nmi', 'NMI'), ('dec/ari', 'ARI'),
                       ('dec/label_change', 'labels changed')):
        points = [(e['iteration'], e[key]) for e in log if key in e]
        if points:
            ax.plot(*zip(*points), marker='.', label=label)
    ax.set_xlabel('iteration')
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return ax


def vis_n_clusters(rows, choice=None, ax=None, title='choosing the number of clusters'):
    """The paper's Figure 6: generalizability ``L_train / L_validation`` and, where known,
    NMI against K (``rows`` of :func:`~dec_chainer.estimator.choose_n_clusters`), the
    chosen K marked."""
    ax = new_axes(ax)
    ks = [r['n_clusters'] for r in rows]
    ax.plot(ks, [r['generalizability'] for r in rows], marker='o', color='C0',
            label='generalizability')
    if all('nmi' in r for r in rows):
        ax.plot(ks, [r['nmi'] for r in rows], marker='s', color='C1', label='NMI')
    if choice is not None:
        ax.axvline(choice, color='0.5', linestyle='--', label='chosen K = {}'.format(choice))
    ax.set_xlabel('number of clusters K')
    ax.set_xticks(ks)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return ax
