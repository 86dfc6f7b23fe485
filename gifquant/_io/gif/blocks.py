"""The one walk over a GIF's blocks: header, extensions, images and their data sub-blocks.

Every reader of GIF structure in gifquant (the scan before decoding, the encoder's reading of
Pillow's output, the size search's frame offsets) walks with ``blocks``. This module imports
nothing but the standard library: the LZW encoder process imports it by path (see
``encoder.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

GIF_MAGIC = (b"GIF87a", b"GIF89a")
EXTENSION, IMAGE, TRAILER = 0x21, 0x2C, 0x3B
GRAPHIC_CONTROL = 0xF9


class Truncated(Exception):
    """The file ends inside a block (not merely without a trailer)."""


@dataclass
class Block:
    """One extension or image of a GIF.

    kind : ``EXTENSION`` or ``IMAGE``
    start : offset of its introducer byte (0x21 or 0x2C)
    label : an extension's label (0xF9 graphic control, ...); 0 for an image
    head : an extension's first sub-block's data (may be empty); an image's 9 descriptor bytes
        (x, y, width, height as little-endian uint16, then the flags)
    table : an image's local colour table, or None
    data : offset of an image's LZW minimum code size byte (its image data); of an extension's
        second sub-block
    end : offset just after the block's terminating empty sub-block; None until the walk has
        passed it (an image is yielded before its data is walked, so a reader can judge its
        descriptor even when the data is cut short)
    """

    kind: int
    start: int
    label: int
    head: bytes
    table: bytes | None
    data: int
    end: int | None = None


def read_exact(f: BinaryIO, n: int) -> bytes:
    """``n`` bytes from ``f``; ``Truncated`` when the file has fewer."""
    data = f.read(n)
    if len(data) != n:
        raise Truncated
    return data


def table_size(flags: int) -> int:
    """Bytes of the colour table a screen or image descriptor's flags byte announces."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def read_header(f: BinaryIO) -> tuple[bytes, bytes | None]:
    """The 13 header bytes (signature and screen descriptor) and the global colour table
    (None: none), read from the start of ``f``; ``Truncated`` when either is cut short."""
    head = read_exact(f, 13)
    size = table_size(head[10])
    return head, read_exact(f, size) if size else None


def skip_sub_blocks(f: BinaryIO) -> None:
    """Read past a chain of data sub-blocks, up to and including its empty terminator."""
    while True:
        size = read_exact(f, 1)[0]
        if size == 0:
            return
        read_exact(f, size)


def blocks(f: BinaryIO) -> Iterator[Block]:
    """The blocks of a GIF from ``f``'s position (just after the header and global table) to
    the trailer or the end of the file (a missing trailer after complete blocks is common and
    harmless). An extension is yielded once walked whole; an image once its descriptor and
    table are read, and its ``end`` is set when the walk goes on past its data. Bytes that
    start no block are skipped, as Pillow skips them. Raises ``Truncated`` when the file ends
    inside a block."""
    while True:
        tag = f.read(1)
        if not tag or tag[0] == TRAILER:
            return
        start = f.tell() - 1
        if tag[0] == EXTENSION:
            label = read_exact(f, 1)[0]
            size = read_exact(f, 1)[0]
            head = read_exact(f, size)
            block = Block(EXTENSION, start, label, head, None, f.tell())
            if size:
                skip_sub_blocks(f)
            block.end = f.tell()
            yield block
        elif tag[0] == IMAGE:
            desc = read_exact(f, 9)
            size = table_size(desc[8])
            table = read_exact(f, size) if size else None
            block = Block(IMAGE, start, 0, desc, table, f.tell())
            yield block
            read_exact(f, 1)  # LZW minimum code size
            skip_sub_blocks(f)
            block.end = f.tell()


def frame_sizes(f: BinaryIO) -> list[int]:
    """Bytes of each complete image of the GIF ``f`` (read from its start), from its graphic
    control extension (where it has one) to the end of its data, as ``GifWriter.frame_bytes``
    counts them; the images complete before a cut, for a GIF cut short."""
    images: list[tuple[int, Block]] = []
    control = None
    try:
        read_header(f)
        for block in blocks(f):
            if block.kind == EXTENSION and block.label == GRAPHIC_CONTROL:
                control = block.start
            elif block.kind == IMAGE:
                images.append((block.start if control is None else control, block))
                control = None
    except Truncated:
        pass
    return [b.end - start for start, b in images if b.end is not None]
