"""The GIF LZW encoder in plain Python: the oracle ``gifquant._kernels._lzw`` is tested against.

Written for clarity, not speed (a dict for the code table, lists of codes): the compiled
kernel must give the same bytes for every input. What it does beyond textbook LZW (any GIF
decoder reads the result, as the decoder's rules are untouched):

- minimum code size: the fewest bits that hold the largest index drawn (at least 2);
- flexible parsing: a code need not be the longest match. Of the matches ``lookahead``
  pixels shorter than the longest or less, the one whose next longest match reaches furthest
  is written (the longest on a tie). A shorter code adds an entry the table holds already:
  the decoder adds it all the same, so the encoder spends that code number unused;
- what to do when the table is full (4096 codes), ``clear``: "eager" writes a clear code at
  once; "heuristic" keeps the full table while its codes cost no more bits a pixel (12 bits
  over a running mean of the pixels the last codes spanned, about 256 of them) than the fresh
  table's whole cycle, from its clear to full, did on average, and to the end of the image
  once fewer than 1000 codes (at that mean) are left, too few to repay a clear; "race" keeps
  it while a second coder (the trial), started afresh at that point as if a clear code had
  been written there, has not yet spent fewer bits (its clear included) on as many pixels or
  more. When the trial has, its codes replace the coder's since that point and it goes on as
  the coder; when its own table fills first, a new trial starts where the coder is;
- a choice at some pixels (``choice``: a delta frame's unchanged pixels, which show the same
  as their own index or as the transparent one): the longest match allowing either value
  there, found depth first (the transparent index before the own one; of matches as long,
  the first found), never below an entry whose height (its longest string below) cannot make
  a longer match than the longest found. A code's entry is its string plus the
  next code's first pixel, which the next search decides: until it has, it is taken to be the
  code's own first pixel (so that in a run the next code may be that very entry, as a
  decoder allows), and moved when the next code starts otherwise. Without an actual choice
  (no pixel whose own index is not the transparent one may be it) the encoding is as above.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

MAX_CODES = 4096
SHIFT = 8  # the running mean's weight: 1/256
REMAIN = 1000  # codes left (at the running mean) below which a full table is kept to the end


class _Coder:
    """LZW codes from pixel ``start`` with a fresh table, kept as (code, bits) pairs."""

    def __init__(
        self,
        data: bytes,
        start: int,
        min_bits: int,
        lookahead: int,
        choice: list[bool] | None = None,
        transparent: int = -1,
    ) -> None:
        self.data = data
        self.choice = choice  # pixels that may be ``transparent`` instead (None: no choice)
        self.transparent = transparent
        self.table: dict[tuple[int, int], int] = {}
        self.prefix: dict[int, int] = {}  # each entry's code without its last pixel
        self.first: dict[int, int] = {c: c for c in range(1 << min_bits)}  # a code's first pixel
        # Each code's longest string below it, in pixels: no less (an entry taken out again
        # leaves the heights it raised).
        self.height: dict[int, int] = dict.fromkeys(range(1 << min_bits), 0)
        self.pending: tuple[int, int] | None = None  # (the last code, its entry's code number)
        self.next_code = (1 << min_bits) + 2
        self.min_bits = min_bits
        self.lookahead = lookahead
        self.pos = start  # the first pixel not yet coded
        self.codes: list[tuple[int, int]] = []
        self.bits = 0

    def width(self) -> int:
        # The decoder adds its entries one code behind the encoder: it reads a code with the
        # width that holds every code defined before that code's own entry.
        return min(12, max(self.min_bits + 1, (self.next_code - 1).bit_length()))

    def full(self) -> bool:
        return self.next_code >= MAX_CODES

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def match(self, p: int) -> list[int]:
        """The codes of the longest match at pixel ``p``: [code of data[p:p+1], ...]."""
        data, table = self.data, self.table
        path = [data[p]]
        while p + len(path) < len(data):
            code = table.get((path[-1], data[p + len(path)]))
            if code is None:
                break
            path.append(code)
        return path

    def step(self) -> None:
        """Write one code."""
        if self.choice is not None:
            self.choice_step()
            return
        data, p, n = self.data, self.pos, len(self.data)
        path = self.match(p)
        longest = size = len(path)
        if p + longest < n:
            reach = -1
            for length in range(longest, max(1, longest - self.lookahead) - 1, -1):
                further = length + len(self.match(p + length))
                if further > reach:
                    reach, size = further, length
        code = path[size - 1]
        w = self.width()
        self.codes.append((code, w))
        self.bits += w
        self.pos = p + size
        if self.next_code < MAX_CODES:  # (at the image's end: the decoder's entry all the same)
            if size == longest and self.pos < n:
                self.table[(code, data[self.pos])] = self.next_code
            self.next_code += 1

    def values(self, q: int) -> tuple[int, ...]:
        """What pixel ``q`` may be written as, in the order tried."""
        v = self.data[q]
        if self.choice[q] and v != self.transparent:
            return (self.transparent, v)
        return (v,)

    def search(self, p: int) -> tuple[int, int]:
        """(code, length) of the longest match at pixel ``p`` with either value at a choice
        pixel: depth first (the transparent index first), the first found of the longest, none
        below a code whose height cannot make a longer one."""
        table, height, n = self.table, self.height, len(self.data)
        best, longest = -1, 0
        for root in self.values(p):
            if longest < 1:
                best, longest = root, 1
            stack = [(root, iter(self.values(p + 1)) if p + 1 < n else iter(()))]
            while stack:
                code, rest = stack[-1]
                hopeless = len(stack) + height[code] <= longest
                v = None if hopeless else next(rest, None)
                if v is None:
                    stack.pop()
                    continue
                child = table.get((code, v))
                if child is None:
                    continue
                q = p + len(stack) + 1  # the pixel after the child's string
                stack.append((child, iter(self.values(q)) if q < n else iter(())))
                if len(stack) > longest:
                    best, longest = child, len(stack)
        return best, longest

    def add(self, code: int, pixel: int, new: int) -> bool:
        """Enter ``code`` + ``pixel`` as ``new`` unless the table holds it already."""
        if (code, pixel) in self.table:
            return False
        self.table[(code, pixel)] = new
        self.prefix[new] = code
        self.first[new] = self.first[code]
        self.height[new] = 0
        up = 1
        while self.height[code] < up:
            self.height[code] = up
            if code < 1 << self.min_bits:
                break
            code = self.prefix[code]
            up += 1
        return True

    def choice_step(self) -> None:
        """``step`` with a choice at some pixels (see the module's docstring)."""
        p, n = self.pos, len(self.data)
        provisional = False
        if self.pending is not None:
            last, new = self.pending
            guess = self.first[last]
            provisional = self.add(last, guess, new)
        best, longest = self.search(p)
        if self.pending is not None:
            start = self.first[best]
            if start != guess:
                if provisional:
                    del self.table[(last, guess)]
                self.add(last, start, new)
            self.pending = None
        size = longest
        if p + longest < n:
            reach = -1
            for length in range(longest, max(1, longest - self.lookahead) - 1, -1):
                further = length + self.search(p + length)[1]
                if further > reach:
                    reach, size = further, length
        code = best
        for _ in range(longest - size):
            code = self.prefix[code]
        w = self.width()
        self.codes.append((code, w))
        self.bits += w
        self.pos = p + size
        if self.next_code < MAX_CODES:
            if self.pos < n:
                self.pending = (code, self.next_code)
            self.next_code += 1


def encode_reference(
    indices: bytes,
    min_bits: int | None = None,
    lookahead: int = 0,
    clear: str = "heuristic",
    choice: bytes | None = None,
    transparent: int = -1,
) -> bytes:
    """GIF image data for ``indices`` (one byte a pixel, row-major, not interlaced): the LZW
    minimum code size byte, the codes in sub-blocks of up to 255 bytes, the empty block.
    ``clear``: "heuristic", "race" or "eager"; ``choice``: a bit a pixel (pixel i in bit i % 8
    of byte i // 8, the lowest first), set where the pixel may be written as ``transparent``
    instead of its index (see the module's docstring)."""
    data = bytes(indices)
    either = None
    if choice is not None:
        either = [bool(choice[i >> 3] >> (i & 7) & 1) for i in range(len(data))]
        if not any(c and v != transparent for c, v in zip(either, data, strict=True)):
            either = None  # no choice after all
    if min_bits is None:
        top = max(data, default=0) if either is None else max(*data, transparent)
        min_bits = max(2, top.bit_length())
    code_clear = 1 << min_bits

    def _coder(start: int) -> _Coder:
        return _Coder(data, start, min_bits, lookahead, either, transparent)

    out: list[tuple[int, int]] = [(code_clear, min_bits + 1)]
    coder = _coder(0)
    bits = min_bits + 1
    last = cycle_start = cycle_pos = cycle_bits = cycle_pixels = 0
    mean = 0  # pixels a code, a running mean with 16 fraction bits
    full = False
    trial, mark = None, 0  # the race's trial coder; where in ``out`` its clear would go
    spent = 0  # the coder's bits since ``mark``
    while not coder.done():
        coder.step()
        out.extend(coder.codes)
        bits += coder.bits
        spent += coder.bits
        coder.codes, coder.bits = [], 0
        if clear == "heuristic":
            d = ((coder.pos - last) << 16) - mean
            mean += d >> SHIFT if d >= 0 else -((-d) >> SHIFT)
            last = coder.pos
        elif clear == "race":
            if trial is None:
                if coder.full() and not coder.done():
                    trial, mark = _coder(coder.pos), len(out)
                    spent = 0
                continue
            while not trial.done() and trial.pos < coder.pos:
                trial.step()
            if trial.bits + 12 <= spent:  # the clear (12 bits: the table was full) pays
                del out[mark:]
                out.append((code_clear, 12))
                out.extend(trial.codes)
                trial.codes, trial.bits = [], 0
                coder, trial = trial, None
            elif coder.done():
                trial = None
            elif trial.full():  # a full table of its own, and still no better: from here
                trial, mark = _coder(coder.pos), len(out)
                spent = 0
            continue
        if not coder.full() or coder.done():
            continue
        if clear == "eager":
            out.append((code_clear, 12))
            coder = _coder(coder.pos)
            continue
        if not full:
            full = True
            cycle_bits, cycle_pixels = bits - cycle_start, coder.pos - cycle_pos
        if (12 * cycle_pixels) << 16 > cycle_bits * mean and (len(data) - coder.pos) << 16 > (
            REMAIN * mean
        ):
            out.append((code_clear, 12))
            bits += 12
            coder = _coder(coder.pos)
            full = False
            cycle_start, cycle_pos = bits, coder.pos
    out.append((code_clear + 1, coder.width()))
    return bytes([min_bits]) + sub_blocks(pack_codes(out))


def pack_codes(codes: list[tuple[int, int]]) -> bytes:
    """(code, width) pairs as GIF packs them: the first code in the lowest bits."""
    acc = n = 0
    buf = bytearray()
    for code, w in codes:
        acc |= code << n
        n += w
        while n >= 8:
            buf.append(acc & 0xFF)
            acc >>= 8
            n -= 8
    if n:
        buf.append(acc & 0xFF)
    return bytes(buf)


def sub_blocks(raw: bytes) -> bytes:
    """``raw`` in sub-blocks of up to 255 bytes, and the empty one that ends them."""
    out = bytearray()
    for i in range(0, len(raw), 255):
        chunk = raw[i : i + 255]
        out.append(len(chunk))
        out += chunk
    out.append(0)
    return bytes(out)


def pillow_decoded(image_data: bytes, w: int, h: int) -> np.ndarray:
    """The (h, w) indices Pillow decodes from one frame's image data, under a 256-entry table."""
    gif = (
        b"GIF89a"
        + struct.pack("<HHBBB", w, h, 0xF7, 0, 0)
        + bytes(768)
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, w, h, 0)
        + image_data
        + b";"
    )
    with Image.open(io.BytesIO(gif)) as im:
        return np.asarray(im)
