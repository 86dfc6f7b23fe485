"""The image reader against Pillow's traps: every frame the file holds is
decoded or the file is refused, Pillow's process-wide settings stay as they were, and no
warning reaches stderr."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import frame_offsets, moving_clip, read_gif, write_apng, write_gif
from PIL import Image, ImageSequence

from gifquant._cli import main
from gifquant._io.gif.scan import scan_gif
from gifquant._io.gif.splice import SplicedReader

ROOT = Path(__file__).resolve().parents[1]


def insert_before_frame(data: bytes, frame: int, block: bytes) -> bytes:
    at = frame_offsets(data)[frame]
    if data[at - 8 : at - 6] == b"\x21\xf9":  # keep the frame's graphic control with it
        at -= 8
    return data[:at] + block + data[at:]


@pytest.fixture
def clip4(tmp_path):
    return write_gif(tmp_path / "clip.gif", moving_clip(4, 16, 20))


@pytest.mark.parametrize(
    "block",
    [
        b"\x21\xff\x00",  # application extension, no data
        b"\x21\xf9\x00",  # graphic control extension, no data
        b"\x21\xfe\x00",  # comment, no data
        b"\x21\x01\x00",  # plain text, no data
        b"\x21\xff\x00\x21\xf9\x00",  # two in a row
    ],
)
@pytest.mark.parametrize("frame", [0, 1, 3])
def test_empty_extension_before_a_frame_keeps_every_frame(clip4, tmp_path, block, frame):
    data = insert_before_frame(clip4.read_bytes(), frame, block)
    src = tmp_path / "empty-ext.gif"
    src.write_bytes(data)
    with open(src, "rb") as f:
        assert scan_gif(f).n_frames == 4
    out = tmp_path / "out.gif"
    assert main([str(src), str(out), "-k", "8", "-q"]) == 0
    frames, _, _ = read_gif(out)
    assert len(frames) == 4
    ref = tmp_path / "ref.gif"
    assert main([str(clip4), str(ref), "-k", "8", "-q"]) == 0
    for a, b in zip(read_gif(ref)[0], frames, strict=True):  # what the intact file gives
        np.testing.assert_array_equal(a, b)


def test_empty_extension_on_stdin_keeps_every_frame(clip4, tmp_path):
    data = insert_before_frame(clip4.read_bytes(), 2, b"\x21\xff\x00")
    cmd = [sys.executable, "-m", "gifquant", "-", str(tmp_path / "o.gif"), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, input=data, capture_output=True, env=env)
    assert r.returncode == 0 and r.stderr == b""
    assert len(read_gif(tmp_path / "o.gif")[0]) == 4


@pytest.mark.parametrize("kind", ["gif", "apng"])
def test_decoder_reading_fewer_frames_than_the_file_holds_is_refused(tmp_path, capsys, kind):
    # Whatever else makes Pillow lose a frame: the clip is refused, nothing is written.
    frames = moving_clip(4, 16, 20)
    if kind == "gif":
        clip4 = write_gif(tmp_path / "clip.gif", frames)
    else:
        clip4 = write_apng(tmp_path / "clip.png", frames)

    class Short(ImageSequence.Iterator):
        def __next__(self):
            if self.position == 2:
                raise StopIteration
            return super().__next__()

    out = tmp_path / "o.gif"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ImageSequence, "Iterator", Short)
        assert main([str(clip4), str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1, err
    assert "4 frames" in err and "read 2" in err
    assert not out.exists() and sorted(os.listdir(tmp_path)) == [clip4.name]


# --- Pillow's process-wide settings and warnings ------------------------------------------


def test_importing_gifquant_leaves_pillows_bomb_guard_alone():
    code = (
        "from PIL import Image; default = Image.MAX_IMAGE_PIXELS\n"
        "import gifquant, gifquant._cli, gifquant._io.image, gifquant._io.streams\n"
        "assert Image.MAX_IMAGE_PIXELS == default, Image.MAX_IMAGE_PIXELS\n"
        "assert default is not None"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("max_pixels", ["64000000", "200000000"])  # under and over Pillow's
def test_a_run_leaves_pillows_bomb_guard_as_it_was(clip4, tmp_path, capsys, max_pixels):
    # Set to Pillow's default first: scripts/bench.py, imported by another test, switches the
    # guard off for the whole test process.
    default = 1024 * 1024 * 1024 // 4 // 3
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", default)
        assert main([str(clip4), str(tmp_path / "o.gif"), "-q", "--max-pixels", max_pixels]) == 0
        assert Image.MAX_IMAGE_PIXELS == default


@pytest.mark.parametrize("pillow_limit", [100, 200])  # 320-pixel frames: an error, a warning
def test_our_budget_governs_not_pillows(clip4, tmp_path, capsys, pillow_limit):
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
        mp.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
        warnings.simplefilter("always")
        assert main([str(clip4), str(tmp_path / "o.gif"), "-q"]) == 0
        assert Image.MAX_IMAGE_PIXELS == pillow_limit
        # ... and ours still refuses what it does not allow.
        assert main([str(clip4), str(tmp_path / "p.gif"), "-q", "--max-pixels", "300"]) == 2
        assert Image.MAX_IMAGE_PIXELS == pillow_limit
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and "--max-pixels" in err, err
    assert len(err.splitlines()) == 1 and caught == []
    assert len(read_gif(tmp_path / "o.gif")[0]) == 4


def test_pillow_warnings_never_reach_stderr(clip4, tmp_path, capsys, monkeypatch):
    convert = Image.Image.convert

    def noisy(self, *a, **k):
        warnings.warn("Possibly corrupt EXIF data", UserWarning, stacklevel=1)
        return convert(self, *a, **k)

    monkeypatch.setattr(Image.Image, "convert", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([str(clip4), str(tmp_path / "o.gif"), "-q"]) == 0
    assert capsys.readouterr().err == "" and caught == []


def test_tiff_whose_tag_points_past_the_end_converts_quietly(tmp_path):
    # Pillow warns ("Truncated File Read") as it seeks to such a page; stderr stays one line.
    pages = [Image.fromarray(f) for f in moving_clip(3, 16, 20)]
    src = tmp_path / "pages.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:])
    data = bytearray(src.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    ifd = struct.unpack("<I", data[ifd + 2 + 12 * n : ifd + 6 + 12 * n])[0]  # the second page
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    for e in range(n):  # BitsPerSample, 3 shorts stored out of line: its offset past the end
        at = ifd + 2 + 12 * e
        if struct.unpack("<HHI", data[at : at + 8]) == (258, 3, 3):
            data[at + 8 : at + 12] = struct.pack("<I", len(data) + 1000)
    src.write_bytes(bytes(data))
    cmd = [sys.executable, "-W", "always", "-m", "gifquant", str(src), str(tmp_path / "o.gif")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([*cmd, "-q"], capture_output=True, env=env, text=True)
    assert r.returncode in (0, 2), r.stderr
    assert len(r.stderr.strip().splitlines()) <= 1 and "Warning" not in r.stderr, r.stderr
    if r.returncode == 0:
        assert len(read_gif(tmp_path / "o.gif")[0]) == 3


def test_spliced_reader_hides_the_ranges():
    data = bytes(range(100))
    cut = ((0, 3), (10, 20), (20, 25), (95, 100))
    want = bytes(b for i, b in enumerate(data) if not any(s <= i < e for s, e in cut))
    view = io.BufferedReader(SplicedReader(io.BytesIO(data), cut, owns=False), 8)
    assert view.read() == want
    for at in (0, 6, 7, 30, len(want) - 1, len(want), len(want) + 5):
        view.seek(at)
        assert view.read(9) == want[at : at + 9] and view.tell() == min(at + 9, max(at, len(want)))
    view.seek(-4, io.SEEK_END)
    assert view.read() == want[-4:]


def test_libtiff_messages_stay_off_stderr(tmp_path):
    # libtiff printed "LZWDecode: Not enough data at scanline 0" itself, before our one line.
    pages = [Image.fromarray(f) for f in moving_clip(3, 16, 20)]
    src = tmp_path / "lzw.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:], compression="tiff_lzw")
    data = bytearray(src.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for _ in range(2):  # to the last page
        n = struct.unpack("<H", data[ifd : ifd + 2])[0]
        ifd = struct.unpack("<I", data[ifd + 2 + 12 * n : ifd + 6 + 12 * n])[0]
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    entries = [struct.unpack("<HHII", data[ifd + 2 + 12 * e : ifd + 14 + 12 * e]) for e in range(n)]
    strip = next(v for tag, _, count, v in entries if tag == 273 and count == 1)
    data[strip : strip + 40] = bytes(40)
    src.write_bytes(bytes(data))
    cmd = [sys.executable, "-m", "gifquant", str(src), str(tmp_path / "o.gif"), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(cmd, capture_output=True, env=env, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("gifquant: error:") and len(r.stderr.splitlines()) == 1, r.stderr
    assert "frame 2" in r.stderr and sorted(os.listdir(tmp_path)) == ["lzw.tif"]


def tiff_pages(path: Path, n: int = 3, **opts) -> bytearray:
    pages = [Image.fromarray(f) for f in moving_clip(n, 16, 20)]
    pages[0].save(path, save_all=True, append_images=pages[1:], **opts)
    return bytearray(path.read_bytes())


def tiff_entries(data: bytearray, page: int) -> list[tuple[int, int, int, int, int]]:
    """(offset, tag, type, count, value) of each entry of a page's IFD (little-endian TIFF)."""
    ifd = struct.unpack("<I", data[4:8])[0]
    for _ in range(page):
        n = struct.unpack("<H", data[ifd : ifd + 2])[0]
        ifd = struct.unpack("<I", data[ifd + 2 + 12 * n : ifd + 6 + 12 * n])[0]
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    at = [ifd + 2 + 12 * e for e in range(n)]
    return [(a, *struct.unpack("<HHII", data[a : a + 12])) for a in at]


def test_tiff_page_with_an_unknown_compression_is_refused_in_one_line(tmp_path, capsys):
    # Pillow raised KeyError: 10825 while counting pages: "gifquant: internal error".
    src = tmp_path / "pages.tif"
    data = tiff_pages(src)
    at = next(a for a, tag, *_ in tiff_entries(data, 1) if tag == 259)
    data[at + 8 : at + 10] = struct.pack("<H", 10825)
    src.write_bytes(bytes(data))
    assert main([str(src), str(tmp_path / "o.gif"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1, err
    assert "10825" in err and sorted(os.listdir(tmp_path)) == ["pages.tif"]


@pytest.mark.parametrize("kind", ["wide.png", "far.gif"])
def test_output_over_65535_pixels_on_a_side_is_refused(tmp_path, capsys, kind):
    # "internal error: OverflowError" from the GIF header (found by the fuzzer: a 1x1 GIF whose
    # first frame sits at y=65535 grows Pillow's canvas to 1x65536).
    src = tmp_path / kind
    if kind == "wide.png":
        Image.fromarray(np.zeros((1, 70000, 3), np.uint8)).save(src)
    else:
        pixel = bytes.fromhex("08 04 00 01 04 04 00")  # one pixel, index 0, LZW
        far, near = (b"\x2c" + struct.pack("<HHHHB", 0, y, 1, 1, 0) + pixel for y in (65535, 0))
        head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + bytes(6)  # 2 black entries
        src.write_bytes(head + far + near + b";")
    assert main([str(src), str(tmp_path / "o.gif"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gifquant: error:") and len(err.splitlines()) == 1, err
    assert "65535" in err and sorted(os.listdir(tmp_path)) == [kind]


def test_apng_playing_more_times_than_a_gif_can_say(tmp_path):
    # num_plays 4294967295 (legal in an APNG): "internal error: struct.error" writing the loop.
    src = write_apng(tmp_path / "clip.png", moving_clip(3, 16, 20))
    data = bytearray(src.read_bytes())
    at = data.find(b"acTL")
    data[at + 8 : at + 12] = struct.pack(">I", 0xFFFFFFFF)
    data[at + 12 : at + 16] = struct.pack(">I", zlib.crc32(data[at : at + 12]))
    src.write_bytes(bytes(data))
    out = tmp_path / "o.gif"
    assert main([str(src), str(out), "-q"]) == 0
    frames, _, loop = read_gif(out)
    assert len(frames) == 3 and loop == 65535
