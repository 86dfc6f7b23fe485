"""Open inputs and outputs by path, ``-`` (stdin/stdout) and format: the I/O edge."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import numpy as np

from .._core.frames import ClipInfo, Frame, QuantizedFrame
from .._errors import GifquantError, InputNotFoundError, Setting, SettingError
from .atomic import (
    atomic_dir,
    atomic_path,
    check_frame_folder,
    is_special,
    output_file,
    scratch_file,
)
from .budget import DEFAULT_MAX_CLIP_PIXELS, DEFAULT_MAX_PIXELS
from .gif.lzw import lzw_worker
from .gif.write import GifWriter
from .image import ImageReader
from .matte import WHITE
from .prestart import EarlyStart
from .sniff import Y4M_MAGIC, file_kind, is_video_container

# The readers and writers of video (ffmpeg), y4m, PNG and gifsicle are imported where they are
# opened: a GIF run needs none of them (2 ms of its start-up on a quiet machine, 15 loaded).

OUTPUT_FORMATS: tuple[str, ...] = ("gif", "mp4", "webm", "y4m", "png")
STDOUT_FORMATS: tuple[str, ...] = ("gif", "y4m", "mp4", "webm")


class Reader(Protocol):
    info: ClipInfo
    seeked: float  # seconds of the requested start the reader has already skipped

    def __iter__(self) -> Iterator[Frame]: ...


class Sink(Protocol):
    def write(self, frame: QuantizedFrame) -> None: ...


def output_format(path: str, fmt: str | None, *, option: str | None = None) -> str:
    """The output format: ``fmt`` when given, else from the extension (``option`` names the
    option the path came from, for the error)."""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in OUTPUT_FORMATS:
            raise SettingError(
                "unknown output format {value!r} ({format}): choose from {formats}",
                value=fmt,
                formats=", ".join(OUTPUT_FORMATS),
            )
    elif path == "-":
        raise SettingError("writing to stdout needs {format} FORMAT")
    else:
        if option is not None and (path.endswith(os.sep) or os.path.isdir(path)):
            return "png"  # a folder: PNG frames, as -f png writes
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        ext = {"yuv4mpeg": "y4m", "apng": "png"}.get(ext, ext)
        if ext not in OUTPUT_FORMATS:
            if option is not None:
                raise SettingError(
                    "{option} {path}: cannot tell the format from the extension; name it "
                    ".gif, .mp4, .webm, .y4m or .png",
                    option=Setting(option),
                    path=path,
                )
            raise SettingError(
                "{path}: cannot tell the output format from the extension; use {format} "
                "({formats})",
                path=path,
                formats=", ".join(OUTPUT_FORMATS),
            )
        fmt = ext
    if path == "-" and fmt not in STDOUT_FORMATS:
        raise SettingError("{format} {fmt} cannot go to stdout; give a folder name", fmt=fmt)
    return fmt


@contextlib.contextmanager
def open_input(
    path: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_clip_pixels: int = DEFAULT_MAX_CLIP_PIXELS,
    start: float = 0.0,
    early: EarlyStart | None = None,
) -> Iterator[Reader]:
    """Open ``path`` (or ``-`` for stdin) as a frame reader (pixel budgets: see io.budget).

    A video reader seeks to ``start`` itself (its ``seeked`` says so); other readers leave the
    trim to the caller. Stdin is streamed when it is y4m, else spooled to a temporary file.
    ``early``: what the command started before its imports (a video file's probe and decoder).
    """
    if path == "-":
        if sys.stdin is None:
            raise GifquantError("stdin is closed; pipe a GIF, video or y4m stream into it")
        if sys.stdin.isatty():
            raise GifquantError("stdin is a terminal; pipe a GIF, video or y4m stream into it")
        with _open_stream(sys.stdin.buffer, "stdin", max_pixels, start, max_clip_pixels) as r:
            yield r
        return
    check_input(path)
    if not os.path.isfile(path):  # a pipe: /dev/stdin, <(...), a FIFO
        with open(path, "rb") as f, _open_stream(f, path, max_pixels, start, max_clip_pixels) as r:
            yield r
        return
    if os.path.getsize(path) == 0:
        raise GifquantError(f"{path}: empty file")
    with open(path, "rb") as f:
        head = f.read(16)
        if file_kind(head) == "y4m":
            from .y4m import Y4mReader

            f.seek(0)
            with Y4mReader(f, name=path, max_pixels=max_pixels) as reader:
                yield reader
            return
    with _open_file(path, path, head, max_pixels, start, max_clip_pixels, early) as reader:
        yield reader


@contextlib.contextmanager
def _open_file(
    source,
    name: str,
    head: bytes,
    max_pixels: int,
    start: float,
    max_clip_pixels: int = 0,
    early: EarlyStart | None = None,
) -> Iterator[Reader]:
    if file_kind(head) == "image":
        reader: Reader = ImageReader(
            source, name=name, max_pixels=max_pixels, max_clip_pixels=max_clip_pixels
        )
    else:
        from .video import VideoReader

        reader = VideoReader(source, name=name, max_pixels=max_pixels, start=start, early=early)
    with reader:
        yield reader


@contextlib.contextmanager
def _open_stream(
    stream: BinaryIO, name: str, max_pixels: int, start: float, max_clip_pixels: int = 0
) -> Iterator[Reader]:
    """A reader of a stream that cannot seek: y4m is read as it comes, anything else spooled."""
    head = stream.read(16)
    if not head:
        raise GifquantError(f"{name}: empty input")
    if head.startswith(Y4M_MAGIC):
        from .y4m import Y4mReader

        with Y4mReader(stream, name=name, max_pixels=max_pixels, head=head) as reader:
            yield reader
        return
    if file_kind(head) != "image" and not is_video_container(head):
        raise GifquantError(
            f"{name}: not a GIF, image, y4m or video stream (it starts {head[:8]!r})"
        )
    # Anything else may need seeking (GIF frame count, mp4 index): spool it to disk, not memory.
    import shutil  # here: with bz2 and lzma, 2 ms of start-up that a file input does not need

    with scratch_file("gifquant-stdin-") as (spool_name, spool):
        spool.write(head)
        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.flush()
        spool.seek(0)
        head = spool.read(16)
        spool.seek(0)
        source = spool if file_kind(head) == "image" else spool_name
        with _open_file(source, name, head, max_pixels, start, max_clip_pixels) as reader:
            yield reader


class GifSink:
    """A GIF written to a binary file, frame by frame."""

    def __init__(self, f, info: ClipInfo, **opts) -> None:
        self._writer = GifWriter(
            f, info.width, info.height, loop=info.loop, always_transparent=info.transparency, **opts
        )

    def write(self, frame: QuantizedFrame) -> None:
        self._writer.write(frame)

    @property
    def frame_bytes(self) -> list[int]:
        """Bytes of each frame written so far (its control and image blocks)."""
        return self._writer.frame_bytes

    def close(self) -> None:
        self._writer.close()


class _LazyRate:
    """A constant-rate sink that picks its rate from the first frame when the source has none
    (a still image: 1 / its duration, kept within 5..50 fps), then opens the real writer."""

    def __init__(self, open_writer, fps: float | None) -> None:
        self._open = open_writer
        self._fps = fps
        self.writer = None

    def write(self, frame: QuantizedFrame) -> None:
        if self.writer is None:
            fps = self._fps
            if fps is None:
                from .video import GIF_ZERO_DELAY

                d = frame.duration if frame.duration > 0 else GIF_ZERO_DELAY
                fps = 1.0 / d if 5.0 <= 1.0 / d <= 50.0 else 25.0
            self.writer = self._open(fps)
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def abort(self) -> None:
        if self.writer is not None and hasattr(self.writer, "abort"):
            self.writer.abort()


@dataclass(frozen=True)
class OutputOptions:
    """How an output is written, beyond its format and the clip's ``ClipInfo``.

    matte : the (r, g, b) a transparent index shows in a format without transparency (mp4,
    webm, y4m); lossy : a GIF is written to a temporary file first, then re-encoded by
    gifsicle with ``--lossy=lossy`` (0: not); merge_duplicates : a GIF frame that changes
    nothing is folded into the previous frame's delay
    """

    matte: tuple[int, int, int] = WHITE
    lossy: int = 0
    merge_duplicates: bool = False


@contextlib.contextmanager
def open_output(
    path: str, fmt: str, info: ClipInfo, options: OutputOptions, *, early: EarlyStart | None = None
) -> Iterator[Sink]:
    """Open an output sink of ``info.width`` x ``info.height`` frames, written as ``options``
    say; a file appears at ``path`` only if the block succeeds (``early``: an LZW encoder
    process the command may have started).

    Writers receive QuantizedFrames; video formats run at ``info.fps`` (or a rate picked from
    the first frame's duration when the source has none).
    """
    width, height, lossy = info.width, info.height, options.lossy
    if fmt == "png" and not is_png_file(path):
        from .png import PngSequenceWriter

        with atomic_dir(path) as folder:
            sink = PngSequenceWriter(folder)
            yield sink
            sink.close()
        return
    if fmt in ("mp4", "webm"):
        from .video import VideoWriter

        with contextlib.ExitStack() as stack:
            if path == "-" or is_special(path):  # a pipe or device: ffmpeg writes our fd
                target = "pipe:1"
                stdout = _stdout() if path == "-" else stack.enter_context(open(path, "wb"))
                stdout.flush()
            else:
                target, stdout = stack.enter_context(atomic_path(path)), None
            sink = _LazyRate(
                lambda fps: VideoWriter(target, fmt, width, height, fps, stdout=stdout), info.fps
            )
            try:
                yield _Matted(sink, options.matte)
                sink.close()
            finally:
                sink.abort()  # kill ffmpeg before the temporary file goes (no-op once closed)
        return
    try:
        with contextlib.ExitStack() as stack:
            f = _stdout() if path == "-" else stack.enter_context(output_file(path))
            if fmt == "png":
                from .png import PngFileWriter

                sink = PngFileWriter(f, info)
            elif fmt == "y4m":
                from .y4m import Y4mWriter

                sink = _LazyRate(lambda fps: Y4mWriter(f, width, height, fps), info.fps)
            else:
                gifsicle = None
                if lossy:
                    import tempfile

                    from .gif.gifsicle import compress_lossy, require_gifsicle

                    gifsicle = require_gifsicle()  # before any work
                encoder = stack.enter_context(lzw_worker(width, height, early))
                raw = f
                if lossy:  # an anonymous file beside the output (or in TMPDIR): none is left
                    here = path != "-" and not is_special(path)
                    folder = os.path.dirname(os.path.abspath(path)) if here else None
                    raw = stack.enter_context(tempfile.TemporaryFile(dir=folder))
                sink = GifSink(
                    raw, info, merge_duplicates=options.merge_duplicates, encoder=encoder
                )
            yield _Matted(sink, options.matte) if fmt == "y4m" else sink
            sink.close()
            if fmt == "gif" and lossy:
                compress_lossy(raw, f, lossy, gifsicle, folder=folder)
    except BrokenPipeError:
        if path == "-":
            raise  # the reader of our stdout went away: the command stops quietly
        raise GifquantError(f"{path}: the reader went away (broken pipe)", exit_code=1) from None


class _Matted:
    """A sink for a format without transparency: a transparent index shows ``matte``."""

    def __init__(self, sink, matte: tuple[int, int, int]) -> None:
        self._sink = sink
        self._matte = np.asarray(matte, np.uint8)

    def write(self, frame: QuantizedFrame) -> None:
        if frame.transparent is not None:
            palette = frame.palette.copy()
            palette[frame.transparent] = self._matte
            frame = dataclasses.replace(frame, palette=palette)
        self._sink.write(frame)


def is_png_file(path: str) -> bool:
    """Whether a PNG output named ``path`` is one file (``.png``/``.apng``), not a folder."""
    return path.lower().endswith((".png", ".apng"))


def _stdout() -> BinaryIO:
    if sys.stdout is None:  # started with stdout closed (>&-)
        raise GifquantError("stdout is closed; give an output file name")
    sys.stdout.flush()
    return sys.stdout.buffer


def same_file(a: str, b: str) -> bool:
    """Whether outputs ``a`` and ``b`` are the same file (``-`` is stdout: a path that is the
    same pipe or file as stdout is stdout)."""
    if a == "-" and b == "-":
        return True
    if a == "-" or b == "-":
        path = b if a == "-" else a
        try:
            out, it = os.fstat(1), os.stat(path)
        except (OSError, ValueError):
            return False
        return (out.st_dev, out.st_ino) == (it.st_dev, it.st_ino)
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both followed through symlinks)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def _is_fd(fd: int, path: str | int) -> bool:
    """Whether open file descriptor ``fd`` is the regular file ``path`` (a path, or another
    file descriptor)."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(a.st_mode) and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_input(path: str) -> None:
    """Refuse an input that is missing, a folder or unreadable (``-`` is stdin)."""
    if path == "-":
        return
    if not os.path.exists(path):
        raise InputNotFoundError(f"{path}: no such file")
    if os.path.isdir(path):
        raise GifquantError(f"{path}: is a directory")
    if stat.S_ISSOCK(os.stat(path).st_mode):
        raise GifquantError(f"{path}: is a socket, not a file or pipe")
    if not os.access(path, os.R_OK):
        raise GifquantError(f"{path}: permission denied")


def check_paths(inp: str, out: str, fmt: str) -> None:
    """Refuse an output that is the input (by path, or through stdin or stdout), a folder
    (but a PNG frame folder), or in a missing or read-only folder.

    Whether an existing output may be replaced (-y, -n, asking) is the CLI's decision.
    """
    if inp == "-" and out == "-":
        same = _is_fd(0, 1)
    elif inp == "-":
        same = _is_fd(0, out)
    elif out == "-":
        same = _is_fd(1, inp)
    else:
        same = same_file(inp, out) or (fmt == "png" and inside(inp, out))
    if same:
        raise GifquantError(f"{out}: output is the input file; refusing to overwrite it")
    if out == "-":
        return
    if len(os.fsencode(os.path.basename(os.path.normpath(out)))) > 255:
        raise GifquantError(f"{out}: file name too long (255 bytes at most)")
    if os.path.basename(os.path.normpath(os.path.abspath(out))) in ("", ".", ".."):
        raise GifquantError(f"{out}: not a file or folder name gifquant can replace")
    if os.path.isdir(out):
        if fmt != "png" or is_png_file(out):
            raise GifquantError(f"{out}: is a directory")
        if inside(os.getcwd(), out):
            raise GifquantError(f"{out}: is the current folder or holds it; not replacing it")
        check_frame_folder(out)
    elif os.path.exists(out) and stat.S_ISSOCK(os.stat(out).st_mode):
        raise GifquantError(f"{out}: is a socket, not a file or pipe")
    elif fmt == "png" and not is_png_file(out) and os.path.lexists(out):
        raise SettingError(
            "{out}: exists and is not a folder ({format} png writes a folder)", out=out
        )
    if is_special(out):
        return  # written in place, wherever it lives
    target = os.path.realpath(out) if os.path.islink(out) else out  # a link's file is replaced
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(parent):
        raise GifquantError(f"{out}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise GifquantError(f"{out}: output folder {parent} is not writable")
