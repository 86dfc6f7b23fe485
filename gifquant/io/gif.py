"""Streaming GIF writer: each frame with its own palette exactly as given.

Pillow's C encoder compresses each frame (LZW) on its own; this module writes the container itself,
frame by frame, so no frame is held back, none is dropped or merged, and no palette is renumbered
behind our back (Pillow's multi-frame saver does all three and keeps every frame until the end).
"""

from __future__ import annotations

import dataclasses
import struct
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..frames import QuantizedFrame
from .gifenc import encode_image

if TYPE_CHECKING:
    from .lzw import LzwWorker

# GIF disposal methods (graphic control extension).
DISPOSE_NONE = 1  # leave the frame in place: the next frame draws over it
DISPOSE_BACKGROUND = 2  # clear the frame's rectangle to transparent


def encode_frame(
    indices: np.ndarray, palette: np.ndarray, transparent: int | None
) -> tuple[bytes, bytes, int | None]:
    """LZW-encode one (height, width) uint8 palette image with Pillow (see ``encode_image``)."""
    h, w = indices.shape
    data = np.ascontiguousarray(indices, dtype=np.uint8).data
    return encode_image(data, w, h, palette.astype(np.uint8).tobytes(), transparent)


class GifWriter:
    """Write a GIF frame by frame to a binary file.

    loop : NETSCAPE loop count (0 = forever) or None for no loop extension (play once)
    merge_duplicates : a delta frame that changes nothing extends the previous frame's delay
        instead of being written (the frame count then drops); off by default

    Delta frames (``QuantizedFrame.delta``) are cropped to the rectangle that changed and drawn
    over the previous frame. The first frame's palette becomes the global colour table; a later
    frame carries its own table only when its palette differs from it.

    always_transparent : give every frame a transparent index (an unused extra palette entry
        when the frame has none and room is left). Decoders such as Pillow decide from the
        first frame whether the clip has alpha, and clear disposed frames to transparent only
        when the frame has a transparent index; ffmpeg and browsers do both regardless.
    encoder : an ``LzwWorker`` that encodes frames in another process while the caller goes
        on; frames are still written in order, at most ``in_flight`` of them pending.
    """

    def __init__(
        self,
        f: BinaryIO,
        width: int,
        height: int,
        *,
        loop: int | None = 0,
        merge_duplicates: bool = False,
        always_transparent: bool = False,
        encoder: LzwWorker | None = None,
        in_flight: int = 3,
    ) -> None:
        self._f = f
        self._encoder = encoder
        self._in_flight = max(1, in_flight)
        # Frames handed to the encoder, oldest first: (future or result, where and how to show it).
        self._encoding: deque[tuple[Future | tuple, tuple]] = deque()
        self._always_transparent = always_transparent
        self.width, self.height = width, height
        self.loop = loop
        self.merge_duplicates = merge_duplicates
        self._clock = 0.0  # source time at the end of the last frame, seconds
        self._written_cs = 0  # centiseconds written so far
        self.n_frames = 0
        self._global: bytes | None = None
        self._pending: list | None = None  # [frame, left, top, disposal, duration]

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
        only when the next one is a full frame with transparent pixels (which must show through,
        not show this frame). So the writer holds one frame back.
        """
        if frame.delta and frame.transparent is not None and self.merge_duplicates:
            if self._pending is not None and not (frame.indices != frame.transparent).any():
                self._pending[4] += frame.duration
                return
        if self._pending is not None:
            self._flush(frame)
        self._pending = [frame, left, top, disposal, frame.duration]

    @staticmethod
    def _crop(frame: QuantizedFrame, left: int, top: int) -> tuple[QuantizedFrame, int, int]:
        """A delta frame cut down to the rectangle that changed (1x1 when nothing did)."""
        changed = frame.indices != frame.transparent
        if not changed.any():
            return dataclasses.replace(frame, indices=frame.indices[:1, :1]), left, top
        rows = np.flatnonzero(changed.any(1))
        cols = np.flatnonzero(changed.any(0))
        indices = frame.indices[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return dataclasses.replace(frame, indices=indices), left + int(cols[0]), top + int(rows[0])

    def _header(self, table: bytes) -> None:
        self._global = table
        n_bits = max(1, (len(table) // 3 - 1).bit_length()) - 1
        self._f.write(
            b"GIF89a"
            + struct.pack("<HHBBB", self.width, self.height, 0x80 | (n_bits << 4) | n_bits, 0, 0)
            + table
        )
        if self.loop is not None:
            self._f.write(
                b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00"
            )

    def _flush(self, following: QuantizedFrame | None) -> None:
        assert self._pending is not None
        frame, left, top, disposal, duration = self._pending
        self._pending = None
        # A full frame with see-through pixels must not show this one through them.
        clear = (
            following is not None
            and not following.delta
            and following.transparent is not None
            and bool((following.indices == following.transparent).any())
        )
        if disposal is None:
            disposal = DISPOSE_BACKGROUND if clear else DISPOSE_NONE
        if frame.delta and frame.transparent is not None and not clear:
            # Cropped to what changed; a frame that must be cleared keeps the whole canvas
            # (its unchanged pixels are transparent anyway), as disposal clears its rectangle.
            frame, left, top = self._crop(frame, left, top)
        h, w = frame.indices.shape
        palette, transparent = frame.palette, frame.transparent
        if self._always_transparent and transparent is None and len(palette) < 256:
            transparent = len(palette)
            palette = np.concatenate([palette, np.zeros((1, 3), palette.dtype)])
        delay = self._delay_cs(duration)
        args = (frame.indices, palette, transparent)
        job = self._encoder.encode(*args) if self._encoder else encode_frame(*args)
        self._encoding.append((job, (left, top, w, h, disposal, delay)))
        self._emit(len(self._encoding) - self._in_flight)

    def _emit(self, at_least: int) -> None:
        """Write encoded frames in order: ``at_least`` of them (waiting if need be), then any
        that are ready."""
        while self._encoding:
            job, (left, top, w, h, disposal, delay) = self._encoding[0]
            if isinstance(job, Future):
                if at_least <= 0 and not job.done():
                    return
                table, image, trans = job.result()
            else:
                table, image, trans = job
            self._encoding.popleft()
            at_least -= 1
            if self._global is None:
                self._header(table)
            packed = (disposal << 2) | (1 if trans is not None else 0)
            gce = b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, trans or 0) + b"\x00"
            if table == self._global:
                desc = b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0)
                table = b""
            else:
                n_bits = max(1, (len(table) // 3 - 1).bit_length()) - 1
                desc = b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0x80 | n_bits)
            self._f.write(gce + desc + table + image)
            self.n_frames += 1

    def close(self) -> None:
        """Write the last frame and the trailer."""
        if self._pending is not None:
            self._flush(None)
        self._emit(len(self._encoding))
        if self._global is None:  # no frame at all: still a valid (empty) GIF
            self._header(b"\x00" * 6)
        self._f.write(b"\x3b")
        self._f.flush()
