"""Walk a GIF's block structure without decoding it: frame count, sizes, truncation.

Pillow grows its canvas to hold frames drawn out of bounds and decodes whatever a frame
descriptor claims, so the pixel budgets must be checked on the structure before any pixel is
decoded. The walk (``blocks.blocks``) skips LZW data sub-block by sub-block (a few hundred
thousand reads for a 100 MB file) and is as lenient as Pillow about stray bytes between blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from .blocks import (
    EXTENSION,
    GIF_MAGIC,
    GRAPHIC_CONTROL,
    Block,
    Truncated,
    blocks,
    read_exact,
    table_size,
)


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
        head = read_exact(f, 13)
    except Truncated:
        raise ValueError("the GIF header is incomplete") from None
    if not is_gif(head):
        raise ValueError("not a GIF")
    try:
        global_table = read_exact(f, table_size(head[10])) if head[10] & 0x80 else None
    except Truncated:
        raise ValueError("the GIF global colour table is incomplete") from None
    scan = _Scan(head, global_table)
    truncated = False
    try:
        for block in blocks(f):
            if block.kind == EXTENSION:
                scan.extension(block)
            else:
                scan.image(block)
    except Truncated:
        truncated = True
    return scan.layout(truncated)


class _Scan:
    """What ``scan_gif`` gathers, block by block."""

    def __init__(self, head: bytes, global_table: bytes | None) -> None:
        self.width, self.height = struct.unpack("<HH", head[6:10])
        self.canvas = [self.width, self.height]
        self.global_table = global_table
        self.images: list[Block] = []
        self.transparency = False
        self.zero: int | None = None
        self.min_delay: int | None = None
        self.total_delay = 0
        self.hidden: list[tuple[int, int]] = []
        self.indexable = _Indexability(global_table, head[11])
        self.repeated: list[tuple[int, int, bytes]] = []

    def extension(self, block: Block) -> None:
        control = block.label == GRAPHIC_CONTROL
        if control and len(block.head) >= 4:
            self.transparency = self.transparency or bool(block.head[0] & 1)
            self.indexable.control(block.head)
            delay = struct.unpack("<H", block.head[1:3])[0]
            self.total_delay += delay
            if delay >= 2:
                self.min_delay = delay if self.min_delay is None else min(self.min_delay, delay)
        if not block.head or (control and len(block.head) < 4):
            if self.hidden and self.hidden[-1][1] == block.start:  # one range for a run
                self.hidden[-1] = (self.hidden[-1][0], block.end)
            else:
                self.hidden.append((block.start, block.end))

    def image(self, block: Block) -> None:
        """An image's descriptor and table, before its data: a bomb that is also cut short is
        reported as a bomb."""
        x0, y0, w, h, fl = struct.unpack("<HHHHB", block.head)
        self.canvas = [max(self.canvas[0], x0 + w), max(self.canvas[1], y0 + h)]
        if (w == 0 or h == 0) and self.zero is None:
            self.zero = len(self.images)
        table = block.table
        repeats = table is not None and table == self.global_table
        if repeats:
            self.repeated.append((block.data - len(table) - 1, block.data, bytes([fl & 0x40])))
        self.indexable.frame(table, repeats)
        self.images.append(block)

    def layout(self, truncated: bool) -> GifLayout:
        return GifLayout(
            self.width,
            self.height,
            self.canvas[0],
            self.canvas[1],
            sum(b.end is not None for b in self.images),  # complete frames only
            self.transparency,
            truncated,
            self.zero,
            self.min_delay,
            tuple(self.hidden),
            self.indexable.ok,
            tuple(self.repeated),
            self.total_delay,
        )
