"""Write an output to a temporary file beside it, renamed into place only on success."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import GifquantError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_beside(path: str, make) -> str:
    """A new temporary name (``make`` is ``tempfile.mkstemp`` or ``mkdtemp``) in ``path``'s
    folder, hidden and ending in ``.part``; a folder that cannot be written is a user error."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        made = make(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=directory)
    except OSError as exc:  # read-only or full file system, folder gone
        raise GifquantError(f"{path}: cannot write in {directory}: {exc.strerror}") from None
    if isinstance(made, tuple):  # mkstemp: (fd, name)
        os.close(made[0])
        return made[1]
    return made


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary file name beside ``path`` (for a child process to write) that becomes
    ``path`` when the block ends without an exception, and is removed otherwise (on
    KeyboardInterrupt too), leaving an existing ``path`` untouched."""
    tmp = _temp_beside(path, tempfile.mkstemp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` when the block ends without an exception
    (see ``atomic_path``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        yield f


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` on success."""
    tmp = _temp_beside(path, tempfile.mkdtemp)
    try:
        yield tmp
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
