"""The exception types the CLI turns into a one-line message and an exit code."""

from __future__ import annotations


class GifquantError(ValueError):
    """A user-facing failure: bad option, unreadable input, unwritable output. A ValueError, so
    that a program calling the library catches it as one.

    ``exit_code`` is 2 for usage and input errors (ffmpeg's and argparse's habit), 1 otherwise.
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class InputNotFoundError(GifquantError, FileNotFoundError):
    """The input file does not exist (a FileNotFoundError too)."""
