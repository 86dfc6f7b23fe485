"""Write an output so that it appears whole or not at all, and never destroys what it names.

A regular file (or a name not yet taken) is written to a temporary file beside it and renamed
into place on success; a symlink to one replaces the file it points to, not the link. Anything
else that exists (a device such as /dev/null, a FIFO, a terminal) is written into, in place,
as ffmpeg does: it cannot be renamed over, and replacing it would destroy it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import stat
from collections.abc import Callable, Iterator
from typing import BinaryIO

from .._errors import GifquantError


def _umask_at_import() -> int:
    mask = os.umask(0o022)  # once, at import, before any thread of ours starts a process
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_at_import()


def umask() -> int:
    """The process umask, read without changing it (Linux's /proc), else as it was at import:
    setting it to read it would race with threads starting processes."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return _UMASK_AT_IMPORT


# A temporary name must stay within NAME_MAX (255 bytes) for an output name of 255 bytes.
_TEMP_STEM_BYTES = 100
# The files a PNG output folder holds, and the only ones ``-y`` may replace.
FRAME_FILE = re.compile(r"frame_\d{6,}\.png")


def is_special(path: str) -> bool:
    """Whether ``path`` (followed through symlinks) exists and is neither a regular file nor
    a folder: a device, FIFO or socket, to be written in place."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _target(path: str) -> str:
    """The file a write to ``path`` replaces: the end of its symlink chain."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _temp_beside(path: str, made: list[str], *, folder: bool = False) -> str:
    """Make a new temporary file (or ``folder``) in ``path``'s folder, hidden and ending in
    ``.part``; its name goes into ``made`` before it exists, so that a signal at any moment
    leaves the caller knowing what to remove. A folder that cannot be written is a user error."""
    directory = os.path.dirname(os.path.abspath(path))
    # The writer's process id in the name: a later run removes it once that process is gone.
    suffix = f".{os.getpid()}.part"
    return _make_new(directory, _temp_prefix(path), suffix, made, folder=folder, what=path)


def check_writable(path: str) -> None:
    """Refuse (a one-line error) an output ``path`` whose folder cannot take a new file, by
    making and removing the temporary file a write would make: before the work, not after."""
    made: list[str] = []
    try:
        _temp_beside(_target(path), made)
    finally:
        remove_all(made)


def _temp_prefix(path: str) -> str:
    stem = os.fsdecode(os.fsencode(os.path.basename(path))[:_TEMP_STEM_BYTES])
    return f".{stem}."


def remove_dead_temps(paths: list[str]) -> None:
    """Remove the temporary files and folders (``.part``) left beside the targets of
    ``paths`` by processes that are gone (killed before their clean-up ran); never those of a
    live process (another run writing the same output). Each folder is listed once."""
    by_folder: dict[str, set[str]] = {}
    for path in paths:
        path = _target(path)
        folder = os.path.dirname(os.path.abspath(path))
        by_folder.setdefault(folder, set()).add(_temp_prefix(path))
    for folder, prefixes in by_folder.items():
        try:
            names = [n for n in os.listdir(folder) if n.startswith(".") and n.endswith(".part")]
        except OSError:
            continue
        for name in names:
            head, _, pid = name[: -len(".part")].rpartition(".")
            prefix, _, token = head.rpartition(".")
            if f"{prefix}." not in prefixes or len(token) != 8 or not pid.isdigit():
                continue  # not a temporary file of these outputs
            if not process_alive(int(pid)):
                remove_all([os.path.join(folder, name)])


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # there, but not ours to signal
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _make_new(
    directory: str, prefix: str, suffix: str, made: list[str], *, folder: bool, what: str
) -> str:
    """A new file (or ``folder``) named ``prefix`` + random + ``suffix`` in ``directory``, its
    name put into ``made`` before it exists (see ``_temp_beside``)."""
    while True:
        name = os.path.join(directory, f"{prefix}{os.urandom(4).hex()}{suffix}")
        made.append(name)
        try:
            if folder:
                os.mkdir(name, 0o700)
            else:
                os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return name
        except FileExistsError:
            made.pop()
        except OSError as exc:  # read-only or full file system, folder gone
            made.pop()
            raise GifquantError(f"{what}: cannot write in {directory}: {exc.strerror}") from None


def scratch_path(prefix: str, made: list[str]) -> str:
    """A new empty file in the temporary folder, its name put into ``made`` before it exists
    (for the caller to remove, see ``remove_all``)."""
    return _make_new(_temp_folder(), prefix, "", made, folder=False, what="temporary file")


def _temp_folder() -> str:
    """``tempfile.gettempdir()``: tempfile (with shutil) is 3 ms of start-up that a run
    writing no scratch file does not need."""
    import tempfile

    return tempfile.gettempdir()


def _rmtree(path: str, *, ignore_errors: bool = True) -> None:
    """``shutil.rmtree``, imported on first use (see ``_temp_folder``)."""
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)


def remove_all(made: list[str]) -> None:
    """Remove the files and folders named in ``made`` (those that exist)."""
    for name in made:
        if os.path.isdir(name) and not os.path.islink(name):
            _rmtree(name)
        else:
            with contextlib.suppress(OSError):
                os.unlink(name)


@contextlib.contextmanager
def scratch_file(prefix: str) -> Iterator[tuple[str, BinaryIO]]:
    """A new file in the temporary folder, open for reading and writing, and its name; removed
    when the block ends, however it ends (a signal at any moment included: its name is known
    before it exists, unlike ``tempfile``'s)."""
    made: list[str] = []
    try:
        name = scratch_path(prefix, made)
        with open(name, "w+b") as f:
            yield name, f
    finally:
        remove_all(made)


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A new folder in the temporary folder, removed with what it holds when the block ends,
    however it ends (see ``scratch_file``)."""
    made: list[str] = []
    try:
        folder = _temp_folder()
        yield _make_new(folder, prefix, "", made, folder=True, what="temporary folder")
    finally:
        remove_all(made)


class _Group:
    """Outputs written but not yet in place: each a step that puts it there and one that takes
    it back (see ``committed_together``)."""

    def __init__(self) -> None:
        # (the output's path, the temporary name it is written at, put it there, take it back)
        self.steps: list[tuple[str, str, Callable[[], None], Callable[[], None]]] = []

    def discard(self) -> None:
        for *_, undo in reversed(self.steps):
            with contextlib.suppress(OSError):
                undo()
        self.steps.clear()

    def commit(self) -> None:
        try:
            while self.steps:
                self.steps[0][2]()
                self.steps.pop(0)
        finally:
            self.discard()  # after a failed rename: the rest are not put in place


_GROUP: contextvars.ContextVar[_Group | None] = contextvars.ContextVar("_GROUP", default=None)


@contextlib.contextmanager
def committed_together(*, commit: bool = True, alone: bool = False) -> Iterator[Callable[[], None]]:
    """Hold back the renames of the outputs written in the block (``atomic_path``,
    ``output_file``, ``atomic_dir``): all are put in place when the block ends without an
    exception, none otherwise (their temporary files are removed). Within an outer block the
    outputs join the outer one, unless ``alone`` (a scratch file the block reads back itself).
    With ``commit=False`` the caller puts them in place by calling the function the block
    yields, inside the block (after, say, ignoring signals); those not put in place by then
    are discarded. A device or FIFO is written in place when it is written: write those last."""
    outer = None if alone else _GROUP.get()
    group = _Group()
    token = _GROUP.set(group)
    try:
        yield group.commit
    except BaseException:
        _GROUP.reset(token)
        group.discard()
        raise
    _GROUP.reset(token)
    if outer is not None:
        outer.steps.extend(group.steps)
    elif commit:
        group.commit()
    else:
        group.discard()


def _put_in_place(path: str, tmp: str, done: Callable[[], None], undo: Callable[[], None]) -> None:
    """Run ``done`` now, or hand it to the group of ``committed_together`` if one is open."""
    group = _GROUP.get()
    if group is None:
        done()
    else:
        group.steps.append((path, tmp, done, undo))


def written_at(path: str) -> str:
    """Where the output ``path`` is now: its temporary name while an open
    ``committed_together`` holds it back, else ``path``."""
    group = _GROUP.get()
    target = _target(path)
    for name, tmp, _, _ in reversed(group.steps if group is not None else ()):
        if name == target:
            return tmp
    return path


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary file name beside ``path``'s target (for a child process to write)
    that becomes the target when the block ends without an exception, and is removed otherwise
    (on a signal too, whenever it comes), leaving an existing target untouched."""
    path = _target(path)
    made: list[str] = []
    try:
        tmp = _temp_beside(path, made)
        # Made 0600: give a replaced file's own permissions, a new one the usual.
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o666 & ~umask()
        os.chmod(tmp, mode)
        yield tmp
        _put_in_place(path, tmp, lambda: os.replace(tmp, path), lambda: os.unlink(tmp))
    except BaseException:
        for name in made:
            with contextlib.suppress(OSError):
                os.unlink(name)
        raise


@contextlib.contextmanager
def output_file(path: str) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` when the block ends without an exception
    (see ``atomic_path``); a device or FIFO is opened and written in place."""
    if is_special(path):
        with open(path, "wb") as f:
            yield f
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        yield f


def check_frame_folder(path: str) -> None:
    """Refuse to replace a folder that holds anything but ``frame_NNNNNN.png`` files."""
    try:
        names = os.listdir(path)
    except OSError as exc:
        raise GifquantError(f"{path}: cannot read the folder: {exc.strerror}") from None
    other = [
        n
        for n in names
        if not (FRAME_FILE.fullmatch(n) and stat.S_ISREG(os.lstat(os.path.join(path, n)).st_mode))
    ]
    if other:
        raise GifquantError(
            f"{path}: the folder holds {other[0]!r} and {len(other) - 1} more besides "
            "frame_*.png files; not replacing it"
            if len(other) > 1
            else f"{path}: the folder holds {other[0]!r} besides frame_*.png files; "
            "not replacing it"
        )


@contextlib.contextmanager
def atomic_dir(path: str) -> Iterator[str]:
    """Yield a temporary folder beside ``path`` (a symlink's target) that replaces it on
    success: a new folder made with the umask's permissions, or an existing one of
    ``frame_*.png`` files (checked again before it goes; its permissions are kept). The old
    folder is moved aside first and removed only once the new one is in place."""
    path = _target(path)
    if os.path.basename(path) in ("", ".", ".."):  # "frames/", "frames/.": the folder itself
        path = os.path.realpath(path)
    made: list[str] = []  # the new frames' folder, then the one the old frames move to
    tmp = None
    try:
        tmp = _temp_beside(path, made, folder=True)
        mode = os.stat(path).st_mode & 0o7777 if os.path.isdir(path) else 0o777 & ~umask()
        os.chmod(tmp, mode)
        yield tmp
    except BaseException:
        for name in made:
            _rmtree(name)
        raise
    _put_in_place(
        path, tmp, lambda: _replace_dir(tmp, path), lambda: _rmtree(tmp, ignore_errors=False)
    )


def _replace_dir(tmp: str, path: str) -> None:
    """Put the folder ``tmp`` in place of ``path`` (see ``atomic_dir``)."""
    made: list[str] = [tmp]  # the new frames' folder, then the one the old frames move to
    old = None
    try:
        if os.path.isdir(path):
            check_frame_folder(path)
            # ``old`` is set before the move: a signal right after it still puts them back.
            old = _temp_beside(path, made, folder=True)
            os.replace(path, old)  # over the empty folder just made
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not os.path.exists(path):
            with contextlib.suppress(OSError):
                os.replace(old, path)  # put the old frames back
                old = None
        for name in made:
            if name != old:  # (old frames that could not go back: removed below)
                _rmtree(name)
        raise
    finally:
        if old is not None:
            _rmtree(old)
