"""One palette image to GIF image data with gifquant's own LZW encoder; and the encoder
process's loop.

This module imports neither numpy nor the rest of gifquant (it loads the compiled LZW kernel
by path), so the encoder process it runs as (``python path/to/encoder.py``, see ``lzw.py``)
starts in a fraction of the time.

Request: ``REQUEST`` (width, height, palette entries, transparent index or -1, 1 if a choice
follows else 0), the indices (height * width bytes), the palette (entries * 3 bytes), the
choice ((height * width + 7) // 8 bytes, when there is one). Reply: ``REPLY`` (colour table
length, or -1 for an error, image data length, transparent index or -1), then the bytes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import sys
from typing import BinaryIO

if __package__:
    from ..._kernels._lzw import encode as lzw_encode
else:  # run by path as the encoder process (prestart.spawn_worker, with -P): no package
    import importlib.machinery
    import importlib.util

    _kernels = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "_kernels")
    for _suffix in importlib.machinery.EXTENSION_SUFFIXES:
        _path = os.path.join(_kernels, "_lzw" + _suffix)
        if os.path.exists(_path):
            _spec = importlib.util.spec_from_file_location("gifquant._kernels._lzw", _path)
            _module = importlib.util.module_from_spec(_spec)
            _spec.loader.exec_module(_module)
            lzw_encode = _module.encode
            break
    else:
        raise ImportError(
            "gifquant's compiled LZW kernel is missing; reinstall it with: "
            "pip install --force-reinstall --no-cache-dir gifquant (or, in a checkout: pip "
            "install -e .)"
        )

REQUEST = struct.Struct("<IIHhB")
REPLY = struct.Struct("<iIh")


def colour_table(palette: bytes) -> bytes:
    """A GIF colour table of ``palette`` (RGB bytes): padded with black to a power of two of
    at least 4 entries, as Pillow's GIF saver pads it."""
    n = len(palette) // 3
    return bytes(palette) + bytes(3 * (max(4, 1 << (n - 1).bit_length()) - n))


def encode_image(
    indices: bytes | memoryview,
    width: int,
    height: int,
    palette: bytes,
    transparent: int | None,
    choice: bytes | None = None,
) -> tuple[bytes, bytes, int | None]:
    """LZW-encode one palette image (``indices``: height * width bytes, row-major; ``choice``:
    a bit a pixel, set where it may be written as ``transparent`` instead, see ``lzw_encode``).

    Returns (colour table bytes, image data: LZW minimum code size + sub-blocks, transparent
    index). The table is the palette padded with black to a power of two of at least 4
    entries (as Pillow's GIF saver, which wrote gifquant's frames before, pads it); the image
    data is ``lzw_encode``'s (see ``_kernels/_lzw.pyx``): on frames under ``TRY_ALL`` pixels
    the smaller of its greedy and flexible parses, each with the race of tables.
    """
    if choice is not None and transparent is None:
        raise ValueError("a choice of transparency needs a transparent index")
    indices = memoryview(indices).cast("B")  # (a numpy array's 2-D buffer: flat)
    n = len(palette) // 3
    if n > 256:
        raise ValueError(f"a GIF palette holds at most 256 colours, not {n}")
    if len(indices) != width * height:
        raise ValueError(f"{len(indices)} indices for a {width}x{height} image")
    table = colour_table(palette[: 3 * n])
    t = -1 if choice is None else transparent  # (the kernel's defaults: no choice)
    if width * height >= TRY_ALL:
        return table, lzw_encode(indices, 0, "heuristic", choice, t), transparent
    image = lzw_encode(indices, 0, "race", choice, t)
    flexible = lzw_encode(indices, 1, "race", choice, t)
    return table, flexible if len(flexible) < len(image) else image, transparent


# Frames under this many pixels are encoded twice, greedy and flexible parsing, each racing a
# fresh table against the full one, and the smaller kept: from 200x150 to 640x360 that is 0.5-
# 1.5% smaller than the heuristic clear alone (which was larger than Pillow's eager clears on
# sunset.mkv and people-detection at k=256), at 3-5x Pillow's encoder time (2-6 ms a 480x270
# frame at k=256). Larger frames take the greedy parse and the heuristic: at
# 720p the race would make the encoder slower than Pillow's, and flexible parsing only
# larger on camera noise (it spends codes on entries the table holds already).
TRY_ALL = 1 << 18


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
        w, h, n, t, has_choice = REQUEST.unpack(head)
        indices = read_exact(inp, w * h)
        palette = read_exact(inp, 3 * n)
        choice = read_exact(inp, (w * h + 7) // 8) if has_choice else None
        try:
            table, image, trans = encode_image(indices, w, h, palette, None if t < 0 else t, choice)
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
