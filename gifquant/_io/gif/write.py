"""Streaming GIF writer: each frame with its own palette exactly as given.

Pillow's C encoder compresses each frame (LZW) on its own; this module writes the container itself,
frame by frame, so no frame is held back, none is dropped or merged, and no palette is renumbered
behind our back (Pillow's multi-frame saver does all three and keeps every frame until the end).
"""

from __future__ import annotations

import struct
from collections import deque
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..._core.colour import pack_rgb, unpack_rgb
from ..._core.distinct import gather
from ..._core.frames import QuantizedFrame
from ..._errors import SettingError
from ..._kernels import box_not, count_bytes, count_where, delta_pixels
from .encoder import colour_table, encode_image

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .lzw import LzwWorker

# GIF disposal methods (graphic control extension).
DISPOSE_NONE = 1  # leave the frame in place: the next frame draws over it
DISPOSE_BACKGROUND = 2  # clear the frame's rectangle to transparent

MAX_SIDE = 65535  # a GIF stores its sizes in 16 bits


def crop_changed(
    indices: np.ndarray, changed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The rectangle of ``indices`` (h, w) holding every ``changed`` pixel (1x1 when none did):
    (indices, changed, left, top) of that rectangle (compiled; ``crop_changed_reference``)."""
    box = box_not(changed.view(np.uint8), 0)
    if box is None:
        return indices[:1, :1], changed[:1, :1], 0, 0
    top, bottom, left, right = box
    return indices[top:bottom, left:right], changed[top:bottom, left:right], left, top


def crop_changed_reference(
    indices: np.ndarray, changed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """numpy reference of ``crop_changed`` (the tests hold the kernel to it)."""
    rows = np.flatnonzero(changed.any(1))
    if len(rows) == 0:
        return indices[:1, :1], changed[:1, :1], 0, 0
    cols = np.flatnonzero(changed[rows[0] : rows[-1] + 1].any(0))  # only the rows that changed
    box = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return indices[box], changed[box], int(cols[0]), int(rows[0])


# Frames looked at before the global colour table is chosen (they are held, cropped, meanwhile),
# and at most this many of their pixels (a byte each), so large frames stay few in memory.
OPENING_FRAMES = 16
OPENING_PIXELS = 1 << 23
# Above this share of changed pixels, a delta rectangle whose transparent index would make its
# colour table larger (a bit more on every code) is written whole, with no transparency: camera
# noise over most of it gains less from the encoder's choice than the bit costs (cockatoo60.mkv
# at k=16: 3,991 KB with transparency, 3,922 KB whole). Where the index fits, the choice wins
# at any share (sunset.mkv at k=256, most of each frame changed: 2,562 KB whole, 1,936 KB).
_WHOLE = 0.3


def count_indices(indices: np.ndarray, minlength: int = 0) -> np.ndarray:
    """How many pixels of uint8 ``indices`` (any shape) hold each index, up to the last one used
    (at least ``minlength`` entries): compiled (``count_indices_reference``)."""
    if indices.dtype != np.uint8:  # (entries of a table, a few)
        return count_indices_reference(indices, minlength)
    a = indices.reshape(-1, indices.shape[-1]) if indices.ndim >= 2 else indices.reshape(1, -1)
    return _trimmed(count_bytes(a), minlength)


def count_indices_reference(indices: np.ndarray, minlength: int = 0) -> np.ndarray:
    """numpy reference of ``count_indices``: ``np.bincount`` a chunk at a time (it copies its
    input to 8-byte integers first, 8 bytes a pixel of a large frame)."""
    flat = indices.reshape(-1)
    counts = np.zeros(256, np.int64)
    for start in range(0, len(flat), _COUNT_CHUNK):
        counts += np.bincount(flat[start : start + _COUNT_CHUNK], minlength=256)
    return _trimmed(counts, minlength)


def _trimmed(counts: np.ndarray, minlength: int) -> np.ndarray:
    used = np.flatnonzero(counts)
    return counts[: max(minlength, int(used[-1]) + 1 if len(used) else 0)]


_COUNT_CHUNK = 1 << 20
_IDENTITY = np.arange(256, dtype=np.uint8)


def table_size(n: int) -> int:
    """Entries of the GIF colour table that holds ``n`` colours (a power of two, 2..256)."""
    return max(2, 1 << (n - 1).bit_length())


def free_index(drawn: np.ndarray, n_colours: int) -> int | None:
    """An index of a table of ``n_colours`` that no pixel in ``drawn`` (uint8) uses, preferring
    one that does not make the table larger; None when every one of 256 is used."""
    return _free_index(count_indices(drawn), n_colours)


def _free_index(counts: np.ndarray, n_colours: int) -> int | None:
    """``free_index`` from the pixel count of each index (any length up to 256)."""
    size = table_size(n_colours)
    if len(counts) < size:  # the table's last index is past the last one drawn
        return size - 1
    free = np.flatnonzero(counts[:size] == 0)
    if len(free):
        return int(free[-1])
    return size if size < 256 else None


def leave_unchanged(
    indices: np.ndarray, changed: np.ndarray, palette: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int | None, np.ndarray | None]:
    """A delta frame: unchanged pixels may be transparent (they keep what is on screen).

    An unchanged pixel's own index shows what is on screen too, so the LZW encoder chooses,
    pixel by pixel, whichever makes its match longer (``choice``), where the frame's table
    holds that index anyway (a changed pixel draws it); an unchanged pixel of any other index
    is transparent. The transparent index is one no changed pixel uses, inside the table's
    size when there is one (a larger table costs a bit on every code); with all 256 entries
    drawn, or outside the table where many pixels changed (``_WHOLE``), the rectangle is
    written whole.
    Returns (indices, palette, transparent index or None, choice: a bit a pixel, set where
    the pixel may be transparent instead of its index (numpy.packbits of the flat rectangle,
    bitorder="little"), or None when there is none). Compiled (``leave_unchanged_reference``).
    """
    counts = count_where(indices, changed.view(np.uint8))
    transparent = _free_index(counts, len(palette))
    if _whole(transparent, np.count_nonzero(changed) / changed.size, len(palette)):
        return indices, palette, None, None
    palette = _with_entry(palette, transparent)
    drawn = (counts > 0).view(np.uint8)
    out, choice, n_choice = delta_pixels(indices, changed.view(np.uint8), transparent, drawn)
    return out, palette, transparent, choice if n_choice else None


def leave_unchanged_reference(
    indices: np.ndarray, changed: np.ndarray, palette: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int | None, np.ndarray | None]:
    """numpy reference of ``leave_unchanged`` (the tests hold the kernels to it)."""
    flat, drawn = indices.reshape(-1), changed.reshape(-1)
    transparent = free_index(flat[drawn], len(palette))
    share = np.count_nonzero(drawn) / len(drawn)  # (not .mean(): that sums floats, 10x slower)
    if _whole(transparent, share, len(palette)):
        return indices, palette, None, None
    palette = _with_entry(palette, transparent)
    either = ~drawn & (np.bincount(flat[drawn], minlength=256) > 0)[flat]
    out = np.where(drawn | either, flat, np.uint8(transparent)).astype(np.uint8)
    choice = np.packbits(either, bitorder="little") if either.any() else None
    return out.reshape(indices.shape), palette, transparent, choice


def _whole(transparent: int | None, share: float, n_colours: int) -> bool:
    """Is a delta rectangle with this share of changed pixels written whole?"""
    return transparent is None or (share > _WHOLE and transparent >= table_size(n_colours))


def _with_entry(palette: np.ndarray, index: int) -> np.ndarray:
    """``palette`` padded with black entries up to ``index`` (included) when it is shorter."""
    if index < len(palette):
        return palette
    pad = np.zeros((index + 1 - len(palette), 3), palette.dtype)
    return np.concatenate([palette, pad])


def covering_colours(drawn: list[np.ndarray], room: int) -> np.ndarray:
    """At most ``room`` packed colours holding every colour of as many of the frames'
    ``drawn`` (each frame's packed colours) as fit, in order of first use: a frame whose
    colours are all in the global table needs no table of its own (up to 768 bytes).

    All of them when they fit; else frames are taken greedily, the one adding the fewest
    colours first (the earliest of a tie). Empty when no frame fits."""
    keys = np.concatenate(drawn) if drawn else np.zeros(0, np.uint32)
    _, at = np.unique(keys, return_index=True)
    everything = keys[np.sort(at)]
    if len(everything) <= room:
        return everything
    sets = [np.unique(d) for d in drawn]
    chosen = np.zeros(0, keys.dtype)
    left = list(range(len(sets)))
    while left:
        new = [np.setdiff1d(sets[i], chosen, assume_unique=True) for i in left]
        best = min(range(len(left)), key=lambda j: len(new[j]))
        if len(chosen) + len(new[best]) > room:
            break
        chosen = np.union1d(chosen, new[best])
        left.pop(best)
    return everything[np.isin(everything, chosen)]


def encode_frame(
    indices: np.ndarray,
    palette: np.ndarray,
    transparent: int | None,
    choice: np.ndarray | None = None,
) -> tuple[bytes, bytes, int | None]:
    """LZW-encode one (height, width) uint8 palette image (see ``encode_image``; ``choice``:
    ``leave_unchanged``'s)."""
    h, w = indices.shape
    data = np.ascontiguousarray(indices, dtype=np.uint8).data
    bits = None if choice is None else choice.tobytes()
    return encode_image(data, w, h, palette.astype(np.uint8).tobytes(), transparent, bits)


class GifWriter:
    """Write a GIF frame by frame to a binary file.

    loop : NETSCAPE loop count (0 = forever) or None for no loop extension (play once); a
        count over the 16 bits GIF has for it (an APNG may say 4294967295) is written as 65535
    merge_duplicates : a delta frame that changes nothing extends the previous frame's delay
        instead of being written (the frame count then drops); off by default

    A frame that says what changed (``QuantizedFrame.changed``) is cropped to the rectangle
    that changed and drawn over the previous frame, each unchanged pixel transparent or its
    own index, whichever the LZW encoder finds shorter (``leave_unchanged``). The
    global colour table holds every colour the first ``OPENING_FRAMES`` frames (fewer when they
    are large) draw when they fit, else those of as many of them as fit, else the first
    frame's palette; a frame carries a table of its own (only the colours it draws) when the
    global one lacks one of them.

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
        if width > MAX_SIDE or height > MAX_SIDE:
            raise SettingError(
                "a GIF is at most {side} pixels on a side; this one would be {w}x{h} ({scale} "
                "makes it smaller)",
                side=MAX_SIDE,
                w=width,
                h=height,
            )
        self._f = f
        self._encoder = encoder
        self._in_flight = max(1, in_flight)
        # Frames handed to the encoder, oldest first: (future or result, where and how to show it).
        self._encoding: deque[tuple[Future | tuple, tuple]] = deque()
        self._always_transparent = always_transparent
        self.width, self.height = width, height
        self.loop = None if loop is None else min(max(0, loop), 0xFFFF)
        self.merge_duplicates = merge_duplicates
        self._clock = 0.0  # source time at the end of the last frame, seconds
        self._written_cs = 0  # centiseconds written so far
        self.n_frames = 0
        self._global: bytes | None = None
        # Nothing is on the canvas (at the start, and after a frame disposed to background).
        self._canvas_clear = True
        # The global table's colours as given to the encoder, chosen once the first frames
        # are in (``_opening``: those frames, ready but for their table).
        self._global_palette: np.ndarray | None = None
        self._global_order: np.ndarray | None = None
        self._global_sorted: np.ndarray | None = None
        self._global_table = b""
        self._opening: list[tuple] = []
        self._flushed = 0
        self._pending: list | None = None  # [frame, left, top, disposal, duration]
        self.frame_bytes: list[int] = []  # each written frame's blocks, in bytes

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
        if self.merge_duplicates and frame.changed is not None and not frame.changed.any():
            if self._pending is not None:
                self._pending[4] += frame.duration
                return
        if self._pending is not None:
            self._flush(frame)
        self._pending = [frame, left, top, disposal, frame.duration]

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
            and following.changed is None
            and following.transparent is not None
            and bool((following.indices == following.transparent).any())
        )
        if disposal is None:
            disposal = DISPOSE_BACKGROUND if clear else DISPOSE_NONE
        indices, palette, transparent = frame.indices, frame.palette, frame.transparent
        choice = None
        if frame.changed is not None and not clear and self._flushed:
            # Only the rectangle that changed; a frame that must be cleared keeps the whole
            # canvas, as disposal clears its rectangle.
            indices, changed, dx, dy = crop_changed(indices, frame.changed)
            left, top = left + dx, top + dy
            indices, palette, transparent, choice = leave_unchanged(indices, changed, palette)
        else:
            if self._always_transparent and transparent is None and len(palette) < 256:
                transparent = len(palette)
                palette = np.concatenate([palette, np.zeros((1, 3), palette.dtype)])
            if transparent is not None and self._canvas_clear:
                # Drawn over a clear canvas: only the rectangle of its visible pixels.
                indices, _, dx, dy = crop_changed(indices, indices != transparent)
                left, top = left + dx, top + dy
        # A frame cleared after it is shown (its rectangle holds all it drew) leaves it clear.
        self._canvas_clear = disposal == DISPOSE_BACKGROUND
        self._flushed += 1
        ready = (indices, palette, transparent, choice, left, top, disposal, duration)
        if self._global_palette is not None:
            self._submit(*ready)
            return
        self._opening.append(ready)
        held = sum(r[0].size for r in self._opening)
        if len(self._opening) >= OPENING_FRAMES or held >= OPENING_PIXELS:
            self._open()

    def _open(self) -> None:
        """Choose the global table from the opening frames and submit them: every colour they
        draw, when that fits (with one entry to spare for transparency), else the colours of
        as many of them as fit (``covering_colours``), else the first frame's palette."""
        drawn = []
        for indices, palette, transparent, *_ in self._opening:
            used = np.flatnonzero(count_indices(indices, minlength=len(palette)))
            drawn.append(pack_rgb(palette[used[used != transparent]]))
        colours = unpack_rgb(covering_colours(drawn, 255))
        if len(colours) == 0:
            colours = self._opening[0][1]
        size = table_size(len(colours) + (len(colours) < 256))
        pad = np.zeros((size - len(colours), 3), colours.dtype)
        self._global_palette = np.concatenate([colours, pad])
        # The file's global table (a frame whose table is these bytes carries none of its own).
        self._global_table = colour_table(self._global_palette.astype(np.uint8).tobytes())
        # Its colours as packed words in sorted order (and each one's entry), to look frames'
        # colours up in.
        keys = pack_rgb(self._global_palette)
        self._global_order = np.argsort(keys, kind="stable")
        self._global_sorted = keys[self._global_order]
        for ready in self._opening:
            self._submit(*ready)
        self._opening = []

    def _submit(self, indices, palette, transparent, choice, left, top, disposal, duration) -> None:
        """Hand a frame to the encoder with its colour table."""
        indices, palette, transparent = self._table(indices, palette, transparent)
        h, w = indices.shape
        delay = self._delay_cs(duration)
        args = (indices, palette, transparent, choice)
        job = self._encoder.encode(*args) if self._encoder else encode_frame(*args)
        self._encoding.append((job, (left, top, w, h, disposal, delay)))
        self._emit(len(self._encoding) - self._in_flight)

    def _table(
        self, indices: np.ndarray, palette: np.ndarray, transparent: int | None
    ) -> tuple[np.ndarray, np.ndarray, int | None]:
        """The colour table a frame is written with: the global table when it holds every
        colour the frame draws (and an entry the frame does not draw, for its transparent
        index), else a local table of only the colours it draws."""
        order, g_sorted = self._global_order, self._global_sorted

        def in_global(entries: np.ndarray) -> tuple[np.ndarray, bool]:
            keys = pack_rgb(palette[entries])
            pos = np.minimum(np.searchsorted(g_sorted, keys), len(order) - 1)
            return order[pos], bool((g_sorted[pos] == keys).all())

        lut = np.zeros(256, np.uint8)
        # Most frames' palettes lie wholly in the global table: then which entries the frame
        # draws need not be counted, pixel by pixel.
        used = np.arange(len(palette))
        if transparent is not None:
            used = used[used != transparent]
        size = len(self._global_palette)
        where, found = in_global(used)
        spare = None if transparent is None else free_index(where, size)
        if not found or (transparent is not None and spare >= size):
            drawn = count_indices(indices, minlength=len(palette))
            used = used[drawn[used] > 0]
            where, found = in_global(used)
            spare = None if transparent is None else free_index(where, size)
        if found and (transparent is None or spare < size):
            lut[used] = where
            if transparent is not None:
                lut[transparent] = transparent = spare
            n = len(palette)  # (every index is under it)
            if np.array_equal(lut[:n], _IDENTITY[:n]):
                # The frame's indices are the global table's already (most frames of a clip
                # whose palette holds still): no pass to look each one up.
                return np.ascontiguousarray(indices), self._global_palette, transparent
            return gather(lut, indices), self._global_palette, transparent
        # Here ``used`` holds only the entries the frame draws (counted above).
        lut[used] = np.arange(len(used))
        table = palette[used]
        if transparent is not None:
            lut[transparent] = len(used)
            table = np.concatenate([table, np.zeros((1, 3), palette.dtype)])
            transparent = len(used)
        return gather(lut, indices), table, transparent

    def _emit(self, at_least: int) -> None:
        """Write encoded frames in order: ``at_least`` of them (waiting if need be), then any
        that are ready."""
        while self._encoding:
            job, (left, top, w, h, disposal, delay) = self._encoding[0]
            if not isinstance(job, tuple):  # a Future of the worker process
                if at_least <= 0 and not job.done():
                    return
                table, image, trans = job.result()
            else:
                table, image, trans = job
            self._encoding.popleft()
            at_least -= 1
            if self._global is None:
                self._header(self._global_table)
            packed = (disposal << 2) | (1 if trans is not None else 0)
            gce = b"\x21\xf9\x04" + struct.pack("<BHB", packed, delay, trans or 0) + b"\x00"
            if table == self._global:
                desc = b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0)
                table = b""
            else:
                n_bits = max(1, (len(table) // 3 - 1).bit_length()) - 1
                desc = b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0x80 | n_bits)
            self._f.write(gce + desc + table + image)
            self.frame_bytes.append(len(gce) + len(desc) + len(table) + len(image))
            self.n_frames += 1

    def close(self) -> None:
        """Write the last frame and the trailer."""
        if self._pending is not None:
            self._flush(None)
        if self._opening:
            self._open()
        self._emit(len(self._encoding))
        if self._global is None:  # no frame at all: still a valid (empty) GIF
            self._header(b"\x00" * 6)
        self._f.write(b"\x3b")
        self._f.flush()
