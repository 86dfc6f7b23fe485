"""GIFs read as palette indices (in gifquant's own processes: the command line, batch workers)
give the very frames, distinct colours and output bytes that reading them as colours gives."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from conftest import CORPUS, moving_clip, write_gif
from lzw_reference import pack_codes, sub_blocks
from PIL import GifImagePlugin, Image

import gifquant
from gifquant._core.distinct import distinct_colours, indexed_colours
from gifquant._io import image
from gifquant._io.gif.scan import scan_gif
from gifquant._io.gif.splice import SplicedReader


def read(path, own: bool, monkeypatch) -> list:
    monkeypatch.setattr(image, "_own_process", own)
    with image.ImageReader(str(path), name=str(path), max_pixels=1 << 26) as r:
        return [(f.rgba.copy(), f.duration, f.indexed) for f in r]


def pillow_gif(path, frames, **save) -> str:
    """Frames saved by Pillow with one palette (unless ``optimize``: a local colour table on
    every frame repeating the global one)."""
    ims = [Image.fromarray(f).quantize(64, dither=Image.Dither.NONE) for f in frames]
    pal = ims[0]
    ims = [Image.fromarray(f).quantize(palette=pal, dither=Image.Dither.NONE) for f in frames]
    save = {"optimize": False, **save}
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=60, loop=0, **save)
    return str(path)


def first_frame_opaque(path, out, frame: int = 0) -> str:
    """The GIF at ``path`` with the transparent index of a frame (its graphic control block)
    dropped."""
    data = bytearray(open(path, "rb").read())
    at = -1
    for _ in range(frame + 1):
        at = data.index(b"\x21\xf9\x04", at + 1)
    data[at + 3] &= 0xFE
    open(out, "wb").write(data)
    return str(out)


def cleared_later(tmp_path, drop: int = 0) -> str:
    """Frames cleared to the background (transparency, index 0) and drawn with holes (index
    0), where frame ``drop`` has no transparent index."""
    ims = []
    for i in range(3):
        idx = np.full((12, 16), 1 + i, np.uint8)
        idx[: 3 + 3 * i, : 4 + 4 * i] = 0
        im = Image.fromarray(idx, "P")
        im.putpalette([90, 90, 90, 200, 30, 30, 30, 200, 30, 30, 30, 200])
        ims.append(im)
    path = tmp_path / f"cleared-{drop}.gif"
    ims[0].save(
        path,
        save_all=True,
        append_images=ims[1:],
        duration=60,
        loop=0,
        optimize=False,
        transparency=0,
        disposal=2,
    )
    return first_frame_opaque(path, tmp_path / f"cleared-{drop}-dropped.gif", drop)


def local_palettes_gif(path, frames) -> str:
    """Each frame with a palette of its own."""
    ims = [Image.fromarray(f).quantize(32, dither=Image.Dither.NONE) for f in frames]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=60, loop=0)
    return str(path)


def cases(tmp_path) -> dict[str, str]:
    clip = moving_clip(6, 24, 32)
    alpha = [np.ones((24, 32), bool) for _ in clip]
    for i, a in enumerate(alpha):
        a[: 4 + i, :6] = False
    out = {
        "pillow": pillow_gif(tmp_path / "pillow.gif", clip),
        "pillow-transparent": pillow_gif(tmp_path / "pt.gif", clip, transparency=0, disposal=2),
        "pillow-restore": pillow_gif(tmp_path / "pr.gif", clip, transparency=3, disposal=3),
        "local-palettes": local_palettes_gif(tmp_path / "local.gif", clip),
        # Pillow's default: cropped frames, their own palettes, transparency from frame 1 on
        "pillow-optimized": pillow_gif(tmp_path / "po.gif", clip, optimize=True),
        "pillow-optimized-bg": pillow_gif(tmp_path / "pob.gif", clip, optimize=True, disposal=2),
        "cleared-later": cleared_later(tmp_path),
        "opaque-later": cleared_later(tmp_path, drop=1),
        "gifquant": str(write_gif(tmp_path / "gq.gif", clip)),
        "gifquant-alpha": str(write_gif(tmp_path / "gqa.gif", clip, alpha=alpha)),
    }
    for name in ("classroom.gif", "people-detection.gif", "newtonscradle.gif"):
        if (CORPUS / name).exists():
            out[name] = str(CORPUS / name)
    for p in sorted((CORPUS / "edge").glob("*.gif")) if (CORPUS / "edge").exists() else ():
        if p.name not in ("decompression_bomb.gif", "zero_width.gif"):  # refused either way
            out["edge/" + p.name] = str(p)
    return out


def test_frames_read_as_indices_are_the_frames_read_as_colours(tmp_path, monkeypatch):
    indexed = {}
    for name, path in cases(tmp_path).items():
        want = read(path, False, monkeypatch)
        got = read(path, True, monkeypatch)
        assert len(got) == len(want), name
        for i, ((a, da, _), (b, db, _)) in enumerate(zip(want, got, strict=True)):
            assert da == db and np.array_equal(a, b), f"{name} frame {i}"
        assert all(px is None for _, _, px in want), "indices only in our own process"
        indexed[name] = sum(px is not None for _, _, px in got)
    # A global palette (repeated in local tables or not): every frame; one transparent index
    # throughout: every frame too.
    for name in ("pillow", "pillow-transparent", "pillow-restore", "gifquant", "gifquant-alpha"):
        assert indexed[name] == 6, name
    assert indexed["local-palettes"] < 6  # Pillow expands frames after a palette change


@pytest.mark.parametrize("threshold", [128, 0])
def test_distinct_colours_from_indices_equal_those_from_colours(tmp_path, monkeypatch, threshold):
    clip = moving_clip(4, 24, 32)
    path = pillow_gif(tmp_path / "t.gif", clip, transparency=2, disposal=2)
    frames = read(path, True, monkeypatch)
    assert any((rgba[..., 3] == 0).any() for rgba, _, _ in frames)
    for rgba, _, px in frames:
        a = distinct_colours(rgba, threshold)
        b = indexed_colours(px, threshold)
        for field in ("colours", "counts", "inverse", "opaque"):
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype and np.array_equal(x, y), field


@pytest.mark.parametrize(
    "settings",
    [
        dict(k=16),
        dict(k=256),
        dict(k=8, dither="floyd-steinberg"),
        dict(k=8, dither="bayer", metric="manhattan"),
        dict(k=4, seeded=False),
    ],
)
def test_output_bytes_do_not_depend_on_the_reading(tmp_path, monkeypatch, settings):
    clip = moving_clip(8, 30, 40)
    sources = [
        pillow_gif(tmp_path / "p.gif", clip, transparency=0, disposal=2),
        str(write_gif(tmp_path / "g.gif", clip)),
    ]
    if (CORPUS / "people-detection.gif").exists():
        sources.append(str(CORPUS / "people-detection.gif"))
    for src in sources:
        outs = []
        for own in (False, True):
            monkeypatch.setattr(image, "_own_process", own)
            out = tmp_path / f"out-{own}.gif"
            gifquant.convert(src, str(out), overwrite=True, **settings)
            outs.append(out.read_bytes())
        assert outs[0] == outs[1], src


def test_pillows_gif_setting_is_put_back(tmp_path, monkeypatch):
    path = pillow_gif(tmp_path / "p.gif", moving_clip(3, 16, 20))
    monkeypatch.setattr(
        GifImagePlugin, "LOADING_STRATEGY", GifImagePlugin.LoadingStrategy.RGB_ALWAYS
    )
    frames = read(path, True, monkeypatch)
    assert all(px is not None for _, _, px in frames)
    assert GifImagePlugin.LOADING_STRATEGY == GifImagePlugin.LoadingStrategy.RGB_ALWAYS


def test_scan_finds_repeated_tables_and_indexable(tmp_path):
    clip = moving_clip(3, 16, 20)
    with open(pillow_gif(tmp_path / "p.gif", clip), "rb") as f:
        layout = scan_gif(f)
    assert layout.indexable and len(layout.repeated_tables) == 2  # frames 1 and 2
    # No transparency in frame 0: Pillow's frames are opaque throughout, whatever the others
    with open(cleared_later(tmp_path), "rb") as f:
        assert scan_gif(f).indexable
    # Transparency in frame 0, another index or none in a later one
    with open(cleared_later(tmp_path, drop=1), "rb") as f:
        assert not scan_gif(f).indexable
    with open(local_palettes_gif(tmp_path / "l.gif", clip), "rb") as f:
        assert scan_gif(f).repeated_tables == ()
    if (CORPUS / "edge" / "different_transparency.gif").exists():
        with open(CORPUS / "edge" / "different_transparency.gif", "rb") as f:
            assert not scan_gif(f).indexable


def test_spliced_reader_replaces_ranges():
    data = bytes(range(50))
    view = io.BufferedReader(
        SplicedReader(io.BytesIO(data), ((5, 10, b"xy"), (20, 22)), owns=False), 4
    )
    want = data[:5] + b"xy" + data[10:20] + data[22:]
    assert view.read() == want
    view.seek(6)
    assert view.read(3) == want[6:9]


# Hand-made GIFs (a hostile tester's finds): each read the same both ways.


def _lzw(indices: list[int], m: int) -> bytes:
    """LZW data of literal codes only, a clear code before each run the table can hold."""
    clear, width, codes = 1 << m, m + 1, []
    for i in range(0, len(indices), max(1, clear - 2)):
        codes += [clear, *indices[i : i + max(1, clear - 2)]]
    return sub_blocks(pack_codes([(c, width) for c in [*codes, clear + 1]]))


def _table(colours) -> tuple[bytes, int]:
    bits = max(1, (len(colours) - 1).bit_length())
    cs = list(colours) + [(0, 0, 0)] * ((1 << bits) - len(colours))
    return b"".join(bytes(c) for c in cs), bits - 1


def _header(w, h, table=None, background=0) -> bytes:
    flags, tail = 0, b""
    if table is not None:
        flags, tail = 0x80 | table[1] | table[1] << 4, table[0]
    return b"GIF89a" + struct.pack("<HHBBB", w, h, flags, background, 0) + tail


def _control(disposal=0, transparent=None) -> bytes:
    flags = disposal << 2 | (transparent is not None)
    return b"\x21\xf9\x04" + struct.pack("<BHB", flags, 5, transparent or 0) + b"\0"


def _image(x, y, w, h, indices, m=None, table=None) -> bytes:
    flags, tail = 0, b""
    if table is not None:
        flags, tail = 0x80 | table[1], table[0]
    m = m or max(2, max(indices).bit_length())
    return b"," + struct.pack("<HHHHB", x, y, w, h, flags) + tail + bytes([m]) + _lzw(indices, m)


P4 = _table([(200, 10, 10), (10, 200, 10), (10, 10, 200), (250, 250, 0)])
L4 = _table([(9, 9, 9), (99, 99, 99), (199, 0, 0), (0, 0, 199)])
RAMP = (bytes([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]), 1)  # Pillow takes it for no palette
FULL = [0, 1, 2, 3, 0, 1] * 5  # a 6x5 frame

HANDMADE = {
    # the first frame with a table of its own, later ones with the global table
    "own-first-table": _header(6, 5, P4)
    + _image(0, 0, 6, 5, FULL, table=L4)
    + _image(0, 0, 2, 2, [3] * 4),
    "own-first-table-then-repeated": _header(6, 5, P4)
    + _image(0, 0, 6, 5, FULL, table=L4)
    + _image(0, 0, 2, 2, [3] * 4, table=P4),
    # two control blocks before the first frame: Pillow keeps the first one's transparency
    "two-controls": _header(6, 5, P4)
    + _control(transparent=1)
    + _control()
    + _image(0, 0, 6, 5, FULL)
    + _control()
    + _image(0, 0, 2, 2, [1] * 4),
    # cleared to a background index past the palette
    "background-past-palette": _header(6, 5, P4, background=13)
    + _image(0, 0, 6, 5, FULL)
    + _control(disposal=2)
    + _image(1, 1, 2, 2, [1] * 4)
    + _image(0, 0, 1, 1, [2]),
    "transparent-past-palette": _header(6, 5, P4)
    + _image(0, 0, 6, 5, FULL)
    + _control(disposal=2, transparent=9)
    + _image(1, 1, 2, 2, [1] * 4, m=4)
    + _image(0, 0, 1, 1, [2]),
    "transparent-past-palette-throughout": _header(6, 5, P4)
    + _control(transparent=9)
    + _image(0, 0, 6, 5, FULL, m=4)
    + _control(disposal=2, transparent=9)
    + _image(1, 1, 2, 2, [1] * 4, m=4)
    + _control(transparent=9)
    + _image(0, 0, 1, 1, [2], m=4),
    # tables Pillow reads as no palette
    "grey-ramp-table": _header(6, 5, P4)
    + _image(0, 0, 6, 5, FULL)
    + _image(0, 0, 2, 2, [1, 2, 3, 0], table=RAMP),
    "no-global-table": _header(6, 5)
    + _image(0, 0, 6, 5, FULL, table=L4)
    + _image(0, 0, 2, 2, [1, 2, 3, 0]),
    # what stays indexed: one global table, a repeated one, one transparent index throughout
    "indexable": _header(6, 5, P4)
    + _control(transparent=0)
    + _image(0, 0, 6, 5, FULL)
    + _control(disposal=2, transparent=0)
    + _image(1, 1, 2, 2, [1, 0, 2, 3], table=P4)
    + _control(transparent=0)
    + _image(0, 0, 3, 1, [3, 0, 1]),
}


@pytest.mark.parametrize("name", list(HANDMADE))
def test_handmade_gifs_read_the_same_both_ways(tmp_path, monkeypatch, name):
    path = tmp_path / f"{name}.gif"
    path.write_bytes(HANDMADE[name] + b";")
    want = read(path, False, monkeypatch)
    got = read(path, True, monkeypatch)
    assert len(got) == len(want)
    for (a, da, _), (b, db, _) in zip(want, got, strict=True):
        assert da == db and np.array_equal(a, b)
    assert all(px is not None for _, _, px in got) == (name == "indexable")
