"""Streaming GIF writer: each frame with its own palette exactly as given.

Pillow's C encoder compresses each frame (LZW) on its own; this module writes the container itself,
frame by frame, so no frame is held back, none is dropped or merged, and no palette is renumbered
behind our back (Pillow's multi-frame saver does all three and keeps every frame until the end).
"""

from __future__ import annotations

import io
import struct
from typing import BinaryIO

import numpy as np
from PIL import Image

from ..frames import QuantizedFrame

# GIF disposal methods (graphic control extension).
DISPOSE_NONE = 1  # leave the frame in place: the next frame draws over it
DISPOSE_BACKGROUND = 2  # clear the frame's rectangle to transparent


def _sub_blocks(data: bytes, pos: int) -> int:
    """Skip a chain of data sub-blocks starting at ``pos``; return the position after it."""
    while True:
        size = data[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size


def encode_frame(
    indices: np.ndarray, palette: np.ndarray, transparent: int | None
) -> tuple[bytes, bytes, int | None]:
    """LZW-encode one palette image with Pillow.

    Returns (colour table bytes, image data: LZW minimum code size + sub-blocks, transparent index
    as Pillow wrote it). The colour table is whatever Pillow wrote, so indices and table agree
    even if Pillow reorders entries.
    """
    h, w = indices.shape
    im = Image.frombuffer("P", (w, h), np.ascontiguousarray(indices), "raw", "P", 0, 1)
    im.putpalette(palette.astype(np.uint8).tobytes(), "RGB")
    buf = io.BytesIO()
    params = {"optimize": False, "interlace": False}
    if transparent is not None:
        params["transparency"] = int(transparent)
    im.save(buf, "GIF", **params)
    data = buf.getvalue()
    pos = 13
    flags = data[10]
    table = b""
    if flags & 0x80:
        size = 3 << ((flags & 7) + 1)
        table = data[pos : pos + size]
        pos += size
    trans_out = None
    while True:
        tag = data[pos]
        if tag == 0x21:
            label = data[pos + 1]
            if label == 0xF9 and data[pos + 3] & 1:
                trans_out = data[pos + 6]
            pos = _sub_blocks(data, pos + 2)
        elif tag == 0x2C:
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:
                size = 3 << ((flags & 7) + 1)
                table = data[pos : pos + size]
                pos += size
            start = pos
            pos = _sub_blocks(data, pos + 1)
            return table, data[start:pos], trans_out
        else:  # pragma: no cover - Pillow always writes an image
            raise RuntimeError("unexpected block in Pillow's GIF output")


class GifWriter:
    """Write a GIF frame by frame to a binary file.

    loop : NETSCAPE loop count (0 = forever) or None for no loop extension (play once)
    always_transparent : give every frame a transparent index (an unused extra palette entry
        when the frame has none and room is left). Decoders such as Pillow decide from the
        first frame whether the clip has alpha, and clear disposed frames to transparent only
        when the frame has a transparent index; ffmpeg and browsers do both regardless.
    """

    def __init__(
        self,
        f: BinaryIO,
        width: int,
        height: int,
        *,
        loop: int | None = 0,
        always_transparent: bool = False,
    ) -> None:
        self._f = f
        self._always_transparent = always_transparent
        self.width, self.height = width, height
        self._clock = 0.0  # source time at the end of the last frame, seconds
        self._written_cs = 0  # centiseconds written so far
        self.n_frames = 0
        self._pending: tuple[QuantizedFrame, int, int, int | None] | None = None
        f.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))
        if loop is not None:
            f.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00")

    def _delay_cs(self, duration: float) -> int:
        # Round the running total, not each frame, so the clip's length stays within 1 cs.
        self._clock += duration
        total = round(self._clock * 100)
        delay = max(0, min(total - self._written_cs, 65535))
        self._written_cs += delay
        return delay

    def write(
        self,
        frame: QuantizedFrame,
        *,
        left: int = 0,
        top: int = 0,
        disposal: int | None = None,
    ) -> None:
        """Append a frame; ``frame.indices`` may be a sub-rectangle placed at (left, top).

        ``disposal=None`` picks it from the next frame: a frame is cleared before the next one
        only when the next one has transparent pixels (which must show through, not show this
        frame). So the writer holds one frame back.
        """
        if self._pending is not None:
            self._flush(frame)
        self._pending = (frame, left, top, disposal)

    def _flush(self, following: QuantizedFrame | None) -> None:
        assert self._pending is not None
        frame, left, top, disposal = self._pending
        self._pending = None
        if disposal is None:
            clear = (
                following is not None
                and following.transparent is not None
                and bool((following.indices == following.transparent).any())
            )
            disposal = DISPOSE_BACKGROUND if clear else DISPOSE_NONE
        h, w = frame.indices.shape
        palette, transparent = frame.palette, frame.transparent
        if self._always_transparent and transparent is None and len(palette) < 256:
            transparent = len(palette)
            palette = np.concatenate([palette, np.zeros((1, 3), palette.dtype)])
        table, image, trans = encode_frame(frame.indices, palette, transparent)
        delay = self._delay_cs(frame.duration)
        packed = (disposal << 2) | (1 if trans is not None else 0)
        gce = b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, trans or 0) + b"\x00"
        n_bits = max(1, (len(table) // 3 - 1).bit_length()) - 1
        desc = b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0x80 | n_bits)
        self._f.write(gce + desc + table + image)
        self.n_frames += 1

    def close(self) -> None:
        """Write the last frame and the trailer."""
        if self._pending is not None:
            self._flush(None)
        self._f.write(b"\x3b")
        self._f.flush()
