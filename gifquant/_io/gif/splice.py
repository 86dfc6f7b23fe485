"""A read-only view of a file with some byte ranges cut out (or replaced), without copying it.

The GIF reader hands Pillow such a view to hide the blocks Pillow misreads (see
``GifLayout.hidden``); a 100 MB GIF is not copied to drop a few 3-byte blocks.
"""

from __future__ import annotations

import bisect
import io
import os
from typing import BinaryIO


class SplicedReader(io.RawIOBase):
    """The bytes of ``f`` (a seekable binary file, read from offset 0) minus ``cut``.

    cut : byte ranges ``(start, end)`` of ``f``, in order and apart; a range given as
        ``(start, end, data)`` reads as the bytes ``data`` instead
    owns : close ``f`` with the view

    Wrap it in ``io.BufferedReader`` for small reads.
    """

    def __init__(self, f: BinaryIO, cut: tuple[tuple, ...], *, owns: bool) -> None:
        super().__init__()
        self._f = f
        self._owns = owns
        size = f.seek(0, os.SEEK_END)
        # Spans: _vstart[i] is where span i starts in the view, _src[i] in the file (or the
        # bytes it reads as, for a replaced range).
        self._vstart: list[int] = []
        self._src: list[int | bytes] = []
        self._len: list[int] = []
        at = v = 0
        for start, end, *data in [*cut, (size, size)]:
            for src, n in ((at, start - at), *((d, len(d)) for d in data)):
                if n > 0:
                    self._vstart.append(v)
                    self._src.append(src)
                    self._len.append(n)
                    v += n
            at = max(at, end)
        self._size = v
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            i = bisect.bisect_right(self._vstart, self._pos) - 1
            into = self._pos - self._vstart[i]
            n = min(len(view) - done, self._len[i] - into)
            src = self._src[i]
            if isinstance(src, bytes):
                view[done : done + n] = src[into : into + n]
                got = n
            else:
                self._f.seek(src + into)
                got = self._f.readinto(view[done : done + n])
            if not got:
                break  # the file shrank under us: a short read, as from the file itself
            done += got
            self._pos += got
        return done

    def close(self) -> None:
        if not self.closed and self._owns:
            self._f.close()
        super().close()
