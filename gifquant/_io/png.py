"""PNG outputs: one file (a still PNG, or an APNG for an animation) or a folder of frames.

``OUT.png`` is one file: a palette PNG when the clip has one frame, else an APNG of full RGB(A)
frames (an APNG shares one palette across frames, and gifquant's palettes change). ``-f png
OUT`` is a folder of palette PNGs, ``frame_000001.png`` on.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import tempfile
import zlib
from typing import BinaryIO

import numpy as np
from PIL import Image

from .._core.frames import ClipInfo, QuantizedFrame

NAME = "frame_{:06d}.png"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _palette_png(frame: QuantizedFrame) -> bytes:
    """``frame`` as an indexed PNG, palette and transparency exactly as quantized."""
    h, w = frame.indices.shape
    im = Image.frombuffer("P", (w, h), np.ascontiguousarray(frame.indices), "raw", "P", 0, 1)
    im.putpalette(frame.palette.astype(np.uint8).tobytes(), "RGB")
    params = {} if frame.transparent is None else {"transparency": int(frame.transparent)}
    buf = io.BytesIO()
    im.save(buf, "PNG", **params)
    return buf.getvalue()


class PngSequenceWriter:
    """One indexed PNG per frame in ``folder``."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self.n_frames = 0

    def write(self, frame: QuantizedFrame) -> None:
        self.n_frames += 1
        with open(os.path.join(self._folder, NAME.format(self.n_frames)), "wb") as f:
            f.write(_palette_png(frame))

    def close(self) -> None:
        pass


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], len(SIGNATURE)
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        out.append((png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def _delay(seconds: float) -> tuple[int, int]:
    """An APNG delay fraction (16-bit numerator and denominator) for ``seconds``."""
    for den in (1000, 100, 1):
        num = round(max(seconds, 0.0) * den)
        if num <= 0xFFFF:
            return num, den
    return 0xFFFF, 1


class PngFileWriter:
    """One PNG file: a still palette PNG for a one-frame clip, else an APNG.

    The first frame is held until a second one says which. The frame count goes in the APNG
    header, which is patched at the end: an output that cannot seek is spooled to a temporary
    file first and copied at the end.
    """

    def __init__(self, f: BinaryIO, info: ClipInfo) -> None:
        self._out = f
        seekable = False
        try:
            seekable = f.seekable()
        except (AttributeError, OSError):
            pass
        self._f: BinaryIO = f if seekable else tempfile.TemporaryFile()
        self._alpha = bool(info.transparency)
        # APNG plays: 0 = forever; a GIF loop count N repeats N more times; none plays once.
        self._plays = 1 if info.loop is None else 0 if info.loop == 0 else info.loop + 1
        self._first: QuantizedFrame | None = None
        self._actl_at = -1
        self._seq = 0
        self.n_frames = 0

    def write(self, frame: QuantizedFrame) -> None:
        self.n_frames += 1
        if self.n_frames == 1:
            self._first = frame
            return
        if self._first is not None:
            first, self._first = self._first, None
            self._begin(first)
            self._frame(first)
        self._frame(frame)

    def _begin(self, first: QuantizedFrame) -> None:
        h, w = first.indices.shape
        self._alpha = self._alpha or first.transparent is not None
        self._size = (w, h)
        self._f.write(SIGNATURE)
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if self._alpha else 2, 0, 0, 0)
        self._f.write(_chunk(b"IHDR", ihdr))
        self._actl_at = self._f.tell()
        self._f.write(_chunk(b"acTL", struct.pack(">II", 0, self._plays)))

    def _frame(self, frame: QuantizedFrame) -> None:
        rgb = frame.palette.astype(np.uint8)[frame.indices]
        if self._alpha:
            alpha = np.full(frame.indices.shape, 255, np.uint8)
            if frame.transparent is not None:
                alpha[frame.indices == frame.transparent] = 0
            rgb = np.dstack([rgb, alpha])
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "PNG")
        w, h = self._size
        num, den = _delay(frame.duration)
        fctl = struct.pack(">IIIIIHHBB", self._seq, w, h, 0, 0, num, den, 0, 0)
        self._seq += 1
        self._f.write(_chunk(b"fcTL", fctl))
        for kind, data in _chunks(buf.getvalue()):
            if kind != b"IDAT":
                continue
            if self._seq == 1:  # the first frame is the default image
                self._f.write(_chunk(b"IDAT", data))
            else:
                self._f.write(_chunk(b"fdAT", struct.pack(">I", self._seq) + data))
                self._seq += 1

    def close(self) -> None:
        if self._first is not None:  # one frame: a plain still PNG
            self._f.write(_palette_png(self._first))
            self._first = None
        elif self.n_frames > 1:
            self._f.write(_chunk(b"IEND", b""))
            end = self._f.tell()
            self._f.seek(self._actl_at)
            self._f.write(_chunk(b"acTL", struct.pack(">II", self.n_frames, self._plays)))
            self._f.seek(end)
        if self._f is not self._out:
            self._f.seek(0)
            shutil.copyfileobj(self._f, self._out, 1 << 20)
            self._f.close()
        self._out.flush()
