"""The errors of a user's mistake: data, settings, files, a run directory.

The command line prints these as one line (``dec-chainer --traceback`` or
``DEC_CHAINER_TRACEBACK=1`` shows their traceback too); any other exception is a bug and
keeps its traceback. Each is a ``ValueError`` (scikit-learn's contract for bad input) and,
for files, the ``OSError`` a caller would catch.
"""


class UserError(ValueError):
    """Something the user gave cannot be used; the message names it and says what to do."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or directory the user named does not exist."""


class NotWritableError(UserError, PermissionError):
    """A directory the user named cannot be written to."""
