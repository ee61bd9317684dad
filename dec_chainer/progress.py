"""A dependency-free text progress bar for loops outside Chainer's Trainer.

(The training phases use ``chainer.training.extensions.ProgressBar``.)
"""

import sys
import time


class ProgressBar:
    """``with ProgressBar(total, 'k-means') as bar: ... bar.update()``; writes to stderr."""

    def __init__(self, total, desc='', stream=None, width=30, enabled=True, min_interval=0.1):
        self.total = max(int(total), 1)
        self.desc = desc
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.enabled = enabled
        self.min_interval = min_interval
        self.count = 0
        self._start = time.time()
        self._last = 0.0
        self._width_drawn = 0
        self._draw(force=True)

    def _draw(self, force=False):
        if not self.enabled:
            return
        now = time.time()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        frac = min(self.count / self.total, 1.0)
        filled = int(round(frac * self.width))
        elapsed = now - self._start
        eta = elapsed / frac - elapsed if frac > 0 else float('nan')
        line = '{} [{}{}] {}/{} {:5.1f}% {:.0f}s elapsed, ETA {}'.format(
            self.desc, '#' * filled, '.' * (self.width - filled), self.count, self.total,
            100 * frac, elapsed, '{:.0f}s'.format(eta) if eta == eta else '?')
        # pad over the end of a longer previous line
        self.stream.write('\r' + line.ljust(self._width_drawn))
        self._width_drawn = len(line)
        self.stream.flush()

    def update(self, n=1):
        self.count += n
        self._draw(force=self.count >= self.total)

    def close(self):
        if self.enabled:
            self._draw(force=True)
            self.stream.write('\n')
            self.stream.flush()
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
