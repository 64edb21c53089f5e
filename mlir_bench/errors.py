"""User-facing errors.

Every problem caused by the user's input (a bad file, a bad argument, a missing download) is raised as a
:class:`UserError`. The CLI prints its message as one line and exits with code 2, without a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error in the user's input: printed as one line, exit code 2, no traceback."""

    exit_code = 2


class DataError(UserError):
    """A data file is missing, corrupt or not in the expected format.

    The message names the file, the record or field, what was found and what was expected.
    """

    def __init__(self, path: object, what: str, *, where: str | None = None) -> None:
        loc = f"{path}" + (f" ({where})" if where else "")
        super().__init__(f"{loc}: {what}")
        self.path = path
        self.where = where


class ModelError(UserError):
    """A model is unknown, cannot be loaded, or returned malformed vectors."""
