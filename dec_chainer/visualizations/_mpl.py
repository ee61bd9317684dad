"""Lazy matplotlib helpers (matplotlib picks a non-interactive backend without a display)."""


def pyplot():
    import matplotlib.pyplot as plt
    return plt


def new_axes(ax, figsize=(6, 5)):
    if ax is None:
        _, ax = pyplot().subplots(figsize=figsize)
    return ax


def save(ax, path, dpi=120):
    """Save the figure of ``ax`` to ``path`` and close it."""
    fig = ax.figure
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
