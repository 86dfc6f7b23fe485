"""Walk a GIF's block structure without decoding it: frame count, sizes, truncation.

Pillow grows its canvas to hold frames drawn out of bounds and decodes whatever a frame
descriptor claims, so the pixel budgets must be checked on the structure before any pixel is
decoded. The walk skips LZW data sub-block by sub-block (a few hundred thousand reads for a
100 MB file) and is as lenient as Pillow about stray bytes between blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

GIF_MAGIC = (b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class GifLayout:
    """What the block structure of a GIF says.

    width, height : logical screen size
    canvas_width, canvas_height : the screen grown to hold every frame (what Pillow allocates)
    n_frames : complete frames (image descriptor and its whole sub-block chain)
    transparency : some graphic control extension sets a transparent index
    truncated : the file ends inside a block (not merely without a trailer)
    zero_size_frame : index of the first frame with zero width or height, or None
    min_delay_cs : the shortest frame delay of 2 cs or more (browsers show shorter ones as
        10 cs), or None when no frame has one
    repeated_tables : the frames' local colour tables that repeat the global one, as byte
        ranges (descriptor flags to the table's end) with the flags byte that drops the table:
        a reader given the file with them replaced sees the same pictures, with one palette
    indexable : Pillow's palette-mode frames of this GIF mean what its expanded ones do: the
        first frame has no transparent index (Pillow's frames are then opaque throughout), or
        every frame has the first one's (another frame's index would be a colour there)
    hidden : byte ranges ``(start, end)``, in order and apart, of the blocks a reader must hide
        from Pillow: extensions that carry nothing for a decoder yet that Pillow misreads (one
        whose data is empty, legal but taken by Pillow as the start of its sub-blocks, so it
        swallows the next frame; a graphic control block shorter than its 4 bytes)
    delay_cs : the frame delays summed (the clip's length in centiseconds)
    """

    width: int
    height: int
    canvas_width: int
    canvas_height: int
    n_frames: int
    transparency: bool
    truncated: bool
    zero_size_frame: int | None
    min_delay_cs: int | None = None
    hidden: tuple[tuple[int, int], ...] = ()
    indexable: bool = True
    repeated_tables: tuple[tuple[int, int, bytes], ...] = ()
    delay_cs: int = 0


class _Truncated(Exception):
    pass


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _skip_sub_blocks(f: BinaryIO) -> None:
    while True:
        size = _read(f, 1)[0]
        if size == 0:
            return
        _read(f, size)


class _Indexability:
    """Whether Pillow's palette-mode frames of a GIF mean what its expanded ones do (see
    ``GifLayout.indexable``), judged block by block as the scan meets them. Pillow keeps a frame
    in palette mode while no frame has had a local table of its own, with the first frame's
    palette and transparent index; where the two ways of reading part, the GIF is not
    indexable:
    - no global table, or one (or a local table) Pillow takes for no palette (a grey ramp);
    - a first frame with a table of its own (later frames without one would be read with it);
    - a transparent index on the first frame that a later frame does not share (an index that
      is a colour there);
    - a frame disposed to the background with a fill index past the palette (its expanded
      frames fill with entry 0, its palette frames with black).
    """

    def __init__(self, global_table: bytes | None, background: int) -> None:
        self.ok = global_table is not None and _is_palette(global_table)
        self._colours = len(global_table) // 3 if global_table else 0
        self._background = background
        self._first: list[int | None] = []  # the first frame's transparent index, once read
        self._transparency: int | None = None  # the coming frame's (Pillow never clears it)
        self._disposal = 0  # Pillow keeps the last one given when a frame gives none

    def control(self, block: bytes) -> None:
        """A graphic control block (4 bytes or more)."""
        if block[0] & 1:
            self._transparency = block[3]
        self._disposal = (block[0] >> 2) & 7 or self._disposal

    def frame(self, table: bytes | None, repeated: bool) -> None:
        """An image descriptor, with its local table (None: none) and whether that repeats
        the global one."""
        t, self._transparency = self._transparency, None
        own = table is not None and not repeated
        if not self._first:
            self._first.append(t)
            self.ok = self.ok and not own
        elif self._first[0] is not None and t != self._first[0]:
            self.ok = False
        if own and not _is_palette(table):
            self.ok = False
        if self._disposal == 2:
            fill = self._first[0] if self._first[0] is not None else t
            if (self._background if fill is None else fill) >= self._colours:
                self.ok = False


def _is_palette(table: bytes) -> bool:
    """Whether Pillow takes a colour table for a palette (not for the grey ramp 0, 1, 2...)."""
    return any(
        not (i // 3 == table[i] == table[i + 1] == table[i + 2]) for i in range(0, len(table), 3)
    )


def is_gif(head: bytes) -> bool:
    """Whether the first bytes of a file are a GIF signature."""
    return head[:6] in GIF_MAGIC


def scan_gif(f: BinaryIO) -> GifLayout:
    """Walk a GIF from the start of ``f`` (which must begin with a GIF signature).

    Raises ValueError when even the header (signature, screen descriptor, global colour table)
    is incomplete; every later truncation is reported in ``truncated``.
    """
    try:
        head = _read(f, 13)
    except _Truncated:
        raise ValueError("the GIF header is incomplete") from None
    if not is_gif(head):
        raise ValueError("not a GIF")
    width, height, flags = struct.unpack("<HHB", head[6:11])
    global_table = None
    try:
        if flags & 0x80:
            global_table = _read(f, 3 << ((flags & 7) + 1))
    except _Truncated:
        raise ValueError("the GIF global colour table is incomplete") from None
    canvas_w, canvas_h = width, height
    n_frames = 0
    transparency = False
    zero = None
    min_delay = None
    total_delay = 0
    truncated = False
    hidden: list[tuple[int, int]] = []
    indexable = _Indexability(global_table, head[11])
    repeated: list[tuple[int, int, bytes]] = []
    try:
        while True:
            tag = f.read(1)
            if not tag or tag == b";":
                break  # a missing trailer after complete frames is common and harmless
            if tag == b"!":
                start = f.tell() - 1
                label = _read(f, 1)[0]
                size = _read(f, 1)[0]
                block = _read(f, size)
                if label == 0xF9 and size >= 4:
                    transparency = transparency or bool(block[0] & 1)
                    indexable.control(block)
                    delay = struct.unpack("<H", block[1:3])[0]
                    total_delay += delay
                    if delay >= 2:
                        min_delay = delay if min_delay is None else min(min_delay, delay)
                if size:
                    _skip_sub_blocks(f)
                if size == 0 or (label == 0xF9 and size < 4):
                    if hidden and hidden[-1][1] == start:  # one range for a run of them
                        hidden[-1] = (hidden[-1][0], f.tell())
                    else:
                        hidden.append((start, f.tell()))
            elif tag == b",":
                x0, y0, w, h, fl = struct.unpack("<HHHHB", _read(f, 9))
                # Before the data: a bomb that is also cut short is reported as a bomb.
                canvas_w, canvas_h = max(canvas_w, x0 + w), max(canvas_h, y0 + h)
                if (w == 0 or h == 0) and zero is None:
                    zero = n_frames
                table = _read(f, 3 << ((fl & 7) + 1)) if fl & 0x80 else None
                repeats = table is not None and table == global_table
                if repeats:
                    end = f.tell()
                    repeated.append((end - len(table) - 1, end, bytes([fl & 0x40])))
                indexable.frame(table, repeats)
                _read(f, 1)  # LZW minimum code size
                _skip_sub_blocks(f)
                n_frames += 1
            # Any other byte: Pillow skips it, and so do we.
    except _Truncated:
        truncated = True
    return GifLayout(
        width,
        height,
        canvas_w,
        canvas_h,
        n_frames,
        transparency,
        truncated,
        zero,
        min_delay,
        tuple(hidden),
        indexable.ok,
        tuple(repeated),
        total_delay,
    )
