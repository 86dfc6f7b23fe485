"""Shared fixtures: tiny generated clips, and the shared corpus when it is present."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from gifquant._core.frames import QuantizedFrame
from gifquant._core.metrics import QualityMeter
from gifquant._io.gif.blocks import IMAGE, blocks, read_header
from gifquant._io.gif.write import GifWriter

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def corpus_file(name: str) -> Path:
    """Path of a corpus file, skipping the test when the corpus is absent."""
    p = CORPUS / name
    if not p.exists():
        pytest.skip(f"corpus file {name} not present")
    return p


def moving_clip(n: int = 12, h: int = 40, w: int = 56, seed: int = 0) -> list[np.ndarray]:
    """RGB frames: a static background of colour blocks with grain, and a disc moving across."""
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.float32)
    blocks = rng.integers(30, 225, size=(3, 4, 3))
    for i in range(3):
        for j in range(4):
            base[i * h // 3 : (i + 1) * h // 3, j * w // 4 : (j + 1) * w // 4] = blocks[i, j]
    yy, xx = np.mgrid[0:h, 0:w]
    base += 10 * np.sin(xx / 5.0)[..., None]  # gradients inside the blocks
    base += rng.normal(0, 3, size=base.shape)  # grain, fixed over time
    frames = []
    for t in range(n):
        img = base.copy()
        cx, cy = 6 + t * (w - 12) / max(1, n - 1), h / 2
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < 36] = (250, 240, 30)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def write_gif(
    path: Path,
    frames: list[np.ndarray],
    *,
    duration: float = 0.05,
    loop=0,
    alpha: list[np.ndarray] | None = None,
) -> Path:
    """Write RGB frames as a GIF with one 255-colour palette for the clip (so pixels that stand
    still in ``frames`` stand still in the GIF), no dithering."""
    h, w = frames[0].shape[:2]
    frames = [np.ascontiguousarray(f[..., :3]) for f in frames]
    sheet = Image.fromarray(np.concatenate(frames[:64], axis=0))
    ref = sheet.quantize(255, dither=Image.Dither.NONE)
    pal = np.asarray(ref.getpalette()[: 3 * 255], np.uint8).reshape(-1, 3)
    with open(path, "wb") as f:
        wr = GifWriter(f, w, h, loop=loop)
        for i, rgb in enumerate(frames):
            idx = np.asarray(Image.fromarray(rgb).quantize(palette=ref, dither=Image.Dither.NONE))
            idx = idx.copy()
            p, transparent = pal, None
            if alpha is not None:
                transparent = len(pal)
                p = np.concatenate([pal, np.zeros((1, 3), np.uint8)])
                idx[~alpha[i]] = transparent
            wr.write(QuantizedFrame(idx, p, transparent, duration))
        wr.close()
    return path


def measure(source: list[np.ndarray], output) -> QualityMeter:
    """dE, flicker, incoherence and colours on screen of an output (decoded frames, or a file
    to decode) against the source frames, as the judge measures them (RGB of every pixel)."""
    frames = read_gif(output)[0] if isinstance(output, (str, Path)) else output
    m = QualityMeter()
    for a, b in zip(source, frames, strict=True):
        m.update(a[..., :3], b[..., :3])
    return m


def write_apng(path: Path, frames: list[np.ndarray], *, duration: float = 0.05) -> Path:
    """Write RGB frames losslessly as an animated PNG (for sources with more than 256 colours)."""
    ims = [Image.fromarray(np.ascontiguousarray(f[..., :3])) for f in frames]
    ims[0].save(
        path,
        save_all=True,
        append_images=ims[1:],
        duration=int(duration * 1000),
        loop=0,
        disposal=0,
        blend=0,
    )
    return path


def read_gif(path) -> tuple[list[np.ndarray], list[int], int | None]:
    """Decode a GIF: (RGBA frames, durations in ms, loop count or None)."""
    data = Path(path).read_bytes() if not isinstance(path, bytes) else path
    im = Image.open(io.BytesIO(data))
    frames, durs = [], []
    for fr in ImageSequence.Iterator(im):
        frames.append(np.asarray(fr.convert("RGBA")).copy())
        durs.append(fr.info.get("duration", 0))
    return frames, durs, im.info.get("loop")


def ffmpeg_rgba(path: Path, width: int, height: int) -> np.ndarray:
    """Decode with the bundled ffmpeg, every frame as stored: shape (n, height, width, 4)."""
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    r = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-fps_mode", "passthrough"]
        + ["-f", "rawvideo", "-pix_fmt", "rgba", "-"],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(r.stdout, np.uint8).reshape(-1, height, width, 4)


def assert_decoders_agree(path: Path) -> None:
    """Pillow and ffmpeg see the same frames: alpha exactly, colours where opaque."""
    pil, _, _ = read_gif(path)
    h, w = pil[0].shape[:2]
    ff = ffmpeg_rgba(path, w, h)
    assert len(ff) == len(pil)
    for i, (a, b) in enumerate(zip(pil, ff, strict=True)):
        opaque = a[..., 3] >= 128
        np.testing.assert_array_equal(opaque, b[..., 3] >= 128, err_msg=f"alpha, frame {i}")
        np.testing.assert_array_equal(a[opaque, :3], b[opaque, :3], err_msg=f"rgb, frame {i}")


@pytest.fixture
def clip_gif(tmp_path) -> Path:
    return write_gif(tmp_path / "clip.gif", moving_clip())


def gif_blocks(path) -> list[dict]:
    """The image blocks of a GIF: rectangle, local table (``table``: its colours as an (n, 3)
    uint8 array, or None), disposal, delay, transparency."""
    data = Path(path).read_bytes()
    pos = 13 + ((3 << ((data[10] & 7) + 1)) if data[10] & 0x80 else 0)
    out, gce = [], {}

    def skip(p):
        while data[p]:
            p += data[p] + 1
        return p + 1

    while data[pos] != 0x3B:
        if data[pos] == 0x21:
            if data[pos + 1] == 0xF9:
                flags = data[pos + 3]
                gce = {
                    "disposal": (flags >> 2) & 7,
                    "delay": data[pos + 4] | data[pos + 5] << 8,
                    "transparent": data[pos + 6] if flags & 1 else None,
                }
            pos = skip(pos + 2)
        else:
            left, top, w, h = (
                int.from_bytes(data[pos + i : pos + i + 2], "little") for i in (1, 3, 5, 7)
            )
            flags = data[pos + 9]
            size = (3 << ((flags & 7) + 1)) if flags & 0x80 else 0
            table = np.frombuffer(data[pos + 10 : pos + 10 + size], np.uint8).reshape(-1, 3)
            pos += 10 + size
            out.append(
                {
                    "left": left,
                    "top": top,
                    "w": w,
                    "h": h,
                    "local_table": bool(flags & 0x80),
                    "table": table if size else None,
                    **gce,
                }
            )
            gce = {}
            pos = skip(pos + 1)
    return out


def frame_offsets(data: bytes) -> list[int]:
    """Byte offsets of each image descriptor (0x2C) of a well-formed GIF."""
    f = io.BytesIO(data)
    read_header(f)
    return [b.start for b in blocks(f) if b.kind == IMAGE]
