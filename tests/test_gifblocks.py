"""The GIF block walker on hand-made files."""

from __future__ import annotations

import io

import pytest

from gifquant._io.gif.blocks import EXTENSION, IMAGE, Truncated, blocks, read_header

HEADER = b"GIF89a" + bytes([2, 0, 1, 0, 0x80, 0, 0]) + bytes(6)  # 2x1, a 2-colour table
CONTROL = b"\x21\xf9\x04\x01\x05\x00\x01\x00"  # transparent index 1, delay 5 cs
IMAGE_2X1 = b"\x2c" + bytes([0, 0, 0, 0, 2, 0, 1, 0, 0]) + b"\x02\x02\x44\x01\x00"


def _walk(data: bytes):
    f = io.BytesIO(data)
    head, table = read_header(f)
    assert head[:6] == b"GIF89a" and table == bytes(6)
    return f, blocks(f)


def test_walks_extensions_and_images_with_their_offsets():
    data = HEADER + CONTROL + IMAGE_2X1 + IMAGE_2X1 + b";"
    _, walk = _walk(data)
    got = list(walk)
    assert [b.kind for b in got] == [EXTENSION, IMAGE, IMAGE]
    assert got[0].head == b"\x01\x05\x00\x01" and got[0].end == 19 + len(CONTROL)
    first = 19 + len(CONTROL)
    assert got[1].start == first and got[1].data == first + 10
    assert got[1].end == got[2].start == first + len(IMAGE_2X1)
    assert got[2].end == len(data) - 1


def test_an_image_cut_short_is_yielded_before_the_walk_fails():
    _, walk = _walk(HEADER + IMAGE_2X1[:-2])
    image = next(walk)
    assert image.kind == IMAGE and image.head[4] == 2  # its descriptor, width 2
    with pytest.raises(Truncated):
        next(walk)
    assert image.end is None


def test_stray_bytes_and_a_missing_trailer_are_tolerated():
    _, walk = _walk(HEADER + b"\x00\x07" + IMAGE_2X1)
    assert [b.kind for b in walk] == [IMAGE]
