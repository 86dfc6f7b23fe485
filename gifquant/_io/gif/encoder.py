"""One palette image to GIF blocks with Pillow's LZW encoder; and the encoder process's loop.

This module imports neither numpy nor the rest of gifquant, so the encoder process it runs as
(``python path/to/encoder.py``, see ``lzw.py``) starts in a fraction of the time.

Request: ``REQUEST`` (width, height, palette entries, transparent index or -1), the indices
(height * width bytes), the palette (entries * 3 bytes). Reply: ``REPLY`` (colour table length,
or -1 for an error, image data length, transparent index or -1), then the bytes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import signal
import struct
import sys
from typing import BinaryIO

from PIL import Image

if __package__:
    from .blocks import EXTENSION, GRAPHIC_CONTROL, blocks, read_header
else:  # run by path as the encoder process (prestart.spawn_worker, with -P): no package
    _here = os.path.dirname(os.path.abspath(__file__))
    _spec = importlib.util.spec_from_file_location(
        "_gifquant_gifblocks", os.path.join(_here, "blocks.py")
    )
    _gifblocks = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_gifblocks)
    EXTENSION, GRAPHIC_CONTROL = _gifblocks.EXTENSION, _gifblocks.GRAPHIC_CONTROL
    blocks, read_header = _gifblocks.blocks, _gifblocks.read_header

REQUEST = struct.Struct("<IIHh")
REPLY = struct.Struct("<iIh")


def encode_image(
    indices: bytes | memoryview, width: int, height: int, palette: bytes, transparent: int | None
) -> tuple[bytes, bytes, int | None]:
    """LZW-encode one palette image (``indices``: height * width bytes, row-major) with Pillow.

    Returns (colour table bytes, image data: LZW minimum code size + sub-blocks, transparent index
    as Pillow wrote it). The colour table is whatever Pillow wrote, so indices and table agree
    even if Pillow reorders entries.
    """
    im = Image.frombuffer("P", (width, height), indices, "raw", "P", 0, 1)
    # Pillow's table and transparent index depend on the palette alone (no optimize): learnt
    # from a saved one-pixel image once per palette, the frame itself needs only the encoder.
    key = (bytes(palette), transparent)
    known = _WRITTEN.get(key)
    if known is None:
        if len(_WRITTEN) >= _WRITTEN_MAX:
            _WRITTEN.clear()  # one step, safe beside another thread encoding
        known = _WRITTEN[key] = _learn(palette, transparent)
    table, trans_out, direct = known
    if direct:
        return table, _CODE_SIZE + im.tobytes("gif", "P") + b"\x00", trans_out
    return _saved(im, palette, transparent)


# The LZW minimum code size Pillow's GIF saver writes before its encoder's sub-blocks (which
# ``tobytes("gif", "P")`` gives alone, without the terminating empty block).
_CODE_SIZE = b"\x08"
# Palettes whose table Pillow writes, known: (palette, transparent) -> (table, transparent as
# written, whether the encoder alone gives Pillow's image data). A batch worker sees many.
_WRITTEN: dict[tuple[bytes, int | None], tuple[bytes, int | None, bool]] = {}
_WRITTEN_MAX = 64


def _learn(palette: bytes, transparent: int | None) -> tuple[bytes, int | None, bool]:
    """Save a one-pixel image with ``palette``: its table, its transparent index, and whether
    this Pillow's saver writes what ``encode_image`` puts together (else it saves each frame)."""
    im = Image.frombuffer("P", (1, 1), b"\x00", "raw", "P", 0, 1)
    table, image, trans_out = _saved(im, palette, transparent)
    return table, trans_out, image == _CODE_SIZE + im.tobytes("gif", "P") + b"\x00"


def _saved(
    im: Image.Image, palette: bytes, transparent: int | None
) -> tuple[bytes, bytes, int | None]:
    """``im`` with ``palette`` through Pillow's GIF saver: (table, image data, transparent)."""
    im.putpalette(palette, "RGB")
    buf = io.BytesIO()
    params = {"optimize": False, "interlace": False}
    if transparent is not None:
        params["transparency"] = int(transparent)
    im.save(buf, "GIF", **params)
    buf.seek(0)
    table = read_header(buf)[1] or b""
    trans_out = None
    image = None
    for block in blocks(buf):
        if block.kind == EXTENSION:
            if image is None and block.label == GRAPHIC_CONTROL and block.head[0] & 1:
                trans_out = block.head[3]
        elif image is None:
            image = block
    if image is None:  # pragma: no cover - Pillow always writes an image
        raise RuntimeError("no image in Pillow's GIF output")
    data = buf.getvalue()
    return image.table or table, data[image.data : image.end], trans_out


def read_exact(f: BinaryIO, n: int) -> bytes:
    """``n`` bytes from ``f``; EOFError when it ends first."""
    data = f.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests from ``inp`` on ``out`` until ``inp`` ends."""
    while True:
        head = inp.read(REQUEST.size)
        if not head:
            return
        if len(head) != REQUEST.size:
            raise EOFError
        w, h, n, t = REQUEST.unpack(head)
        indices = read_exact(inp, w * h)
        palette = read_exact(inp, 3 * n)
        try:
            table, image, trans = encode_image(indices, w, h, palette, None if t < 0 else t)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
            msg = f"{type(exc).__name__}: {exc}".encode()
            out.write(REPLY.pack(-1, len(msg), -1) + msg)
        else:
            out.write(REPLY.pack(len(table), len(image), -1 if trans is None else trans))
            out.write(table)
            out.write(image)
        out.flush()


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the parent handles it and stops this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(EOFError, BrokenPipeError):
        serve(sys.stdin.buffer, sys.stdout.buffer)
