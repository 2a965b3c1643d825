"""Errors that are the user's to fix.

A :class:`UserError` is printed by the CLI as one line (``error: ...``) with a
non-zero exit status and no traceback. Anything else is a bug in tinykws and
keeps its traceback.
"""


class UserError(Exception):
    """Bad input, a missing file, an unplugged board: something the user can fix."""

    exit_code = 2
