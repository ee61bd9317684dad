"""Whether this process is the ``dec-chainer`` command, and its Ctrl-C while it starts.

Imported by ``dec_chainer/__init__.py`` before anything heavy (Chainer and NumPy take
seconds to import): a Ctrl-C in those seconds ends the command in one line, exit status
130, instead of a traceback through the import machinery. ``cli.main`` then restores
Python's handler (a KeyboardInterrupt it turns into the same line).
"""

import os
import signal
import sys


def started_as_command():
    """Whether this process is the ``dec-chainer`` command (or ``python -m dec_chainer``)."""
    argv = getattr(sys, 'orig_argv', [])
    return (os.path.basename(sys.argv[0] if sys.argv else '') == 'dec-chainer'
            or argv[1:3] == ['-m', 'dec_chainer'])


def _interrupted_while_starting(signum, frame):
    print('dec-chainer: interrupted while starting; nothing was run', file=sys.stderr)
    raise SystemExit(130)


def guard_start():
    """In the command, and where Python's own handler is in place: Ctrl-C until
    ``cli.main`` runs is one line and exit status 130."""
    if started_as_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_starting)
