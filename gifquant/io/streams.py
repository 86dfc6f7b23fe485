"""Open inputs and outputs by path, ``-`` (stdin/stdout) and format: the I/O edge."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import Protocol

from ..errors import GifquantError
from ..frames import ClipInfo, Frame, QuantizedFrame
from .atomic import atomic_file
from .budget import DEFAULT_MAX_CLIP_PIXELS, DEFAULT_MAX_PIXELS
from .gif import GifWriter
from .image import ImageReader

OUTPUT_FORMATS: tuple[str, ...] = ("gif",)


class Reader(Protocol):
    info: ClipInfo

    def __iter__(self) -> Iterator[Frame]: ...


class Sink(Protocol):
    def write(self, frame: QuantizedFrame) -> None: ...


def output_format(path: str, fmt: str | None) -> str:
    """The output format: ``fmt`` when given, else from the extension."""
    if fmt is not None:
        if fmt not in OUTPUT_FORMATS:
            raise GifquantError(
                f"unknown output format {fmt!r} (-f): choose from {', '.join(OUTPUT_FORMATS)}"
            )
        return fmt
    if path == "-":
        raise GifquantError("writing to stdout needs -f FORMAT")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in OUTPUT_FORMATS:
        raise GifquantError(
            f"{path}: cannot tell the output format from the extension; use -f "
            f"({', '.join(OUTPUT_FORMATS)})"
        )
    return ext


@contextlib.contextmanager
def open_input(
    path: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_clip_pixels: int = DEFAULT_MAX_CLIP_PIXELS,
) -> Iterator[Reader]:
    """Open ``path`` (or ``-`` for stdin) as a frame reader (pixel budgets: see io.budget)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        if not data:
            raise GifquantError("stdin: empty input")
        source: str | io.BytesIO = io.BytesIO(data)
        name = "stdin"
    else:
        if not os.path.exists(path):
            raise GifquantError(f"{path}: no such file")
        if os.path.isdir(path):
            raise GifquantError(f"{path}: is a directory")
        if not os.access(path, os.R_OK):
            raise GifquantError(f"{path}: permission denied")
        if os.path.getsize(path) == 0:
            raise GifquantError(f"{path}: empty file")
        source, name = path, path
    reader = ImageReader(source, name=name, max_pixels=max_pixels, max_clip_pixels=max_clip_pixels)
    with reader:
        yield reader


class GifSink:
    """A GIF written to a binary file, frame by frame."""

    def __init__(self, f, info: ClipInfo, width: int, height: int) -> None:
        self._writer = GifWriter(
            f, width, height, loop=info.loop, always_transparent=info.transparency
        )

    def write(self, frame: QuantizedFrame) -> None:
        self._writer.write(frame)

    def close(self) -> None:
        self._writer.close()


@contextlib.contextmanager
def open_output(
    path: str, fmt: str, info: ClipInfo, *, width: int | None = None, height: int | None = None
) -> Iterator[Sink]:
    """Open an output sink; a file appears at ``path`` only if the block succeeds."""
    width = info.width if width is None else width
    height = info.height if height is None else height
    if path == "-":
        sink = GifSink(sys.stdout.buffer, info, width, height)
        yield sink
        sink.close()
        return
    with atomic_file(path) as f:
        sink = GifSink(f, info, width, height)
        yield sink
        sink.close()


def check_paths(inp: str, out: str, *, overwrite: bool) -> None:
    """Refuse an output that is the input, sits in a missing folder, or exists without -y."""
    if out == "-":
        return
    if inp != "-" and os.path.exists(out) and os.path.exists(inp):
        if os.path.samefile(inp, out):
            raise GifquantError(f"{out}: output is the input file; refusing to overwrite it")
    if inp != "-" and os.path.realpath(inp) == os.path.realpath(out):
        raise GifquantError(f"{out}: output is the input file; refusing to overwrite it")
    if os.path.isdir(out):
        raise GifquantError(f"{out}: is a directory")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise GifquantError(f"{out}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise GifquantError(f"{out}: output folder {parent} is not writable")
    if os.path.lexists(out) and not overwrite:
        raise GifquantError(f"{out}: already exists (use -y to overwrite)")
