"""Bytes of gifquant's GIFs with its own LZW encoder against Pillow's (which wrote them before),
gifsicle re-encoding them, and ffmpeg's global-palette GIF at the same k; and whether the
frames decode the same.

    python scripts/lzw_bytes.py                      # corpus GIFs and ../clips/*.mkv, k=16 and 256
    python scripts/lzw_bytes.py -k 16 --ffmpeg a.gif b.mkv

"ours before" is the same file with each frame's image data as Pillow's encoder wrote it
(minimum code size 8, ``Image.tobytes("gif")``), which is what gifquant wrote before its own
encoder; "image data" counts only the frames' LZW data (gifsicle also rewrites colour tables:
it folds local tables into the global one where they fit); "same frames" compares every
frame's RGBA as Pillow decodes both files. gifsicle is the one on PATH, run with no options
(``gifsicle ours.gif > re.gif``); ffmpeg is the bundled imageio-ffmpeg binary,
``palettegen=stats_mode=full`` + ``paletteuse=dither=none``.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gifquant._cli import main  # noqa: E402
from gifquant._io import prestart  # noqa: E402
from gifquant._io.gif import lzw, write  # noqa: E402
from gifquant._io.gif.blocks import IMAGE, blocks, read_header  # noqa: E402

FFMPEG_GLOBAL = (
    "split[a][b];[a]palettegen=max_colors={k}:stats_mode=full[p];[b][p]paletteuse=dither=none"
)


def run_gifquant(src: Path, out: Path, k: int) -> list[np.ndarray]:
    """Write ``out`` with gifquant at ``k``; the indices of every frame it encoded, in order."""
    frames: list[np.ndarray] = []
    encode = write.encode_frame

    def recording(indices, palette, transparent):
        frames.append(np.ascontiguousarray(indices, np.uint8).copy())
        return encode(indices, palette, transparent)

    # Every frame through ``encode_frame`` in this process, none to the encoder process.
    saved = write.encode_frame, lzw.WORKER_PIXELS, prestart.WORKER_PIXELS
    write.encode_frame, lzw.WORKER_PIXELS, prestart.WORKER_PIXELS = recording, 1 << 62, 1 << 62
    try:
        status = main([str(src), str(out), "-k", str(k), "-q"])
    finally:
        write.encode_frame, lzw.WORKER_PIXELS, prestart.WORKER_PIXELS = saved
    if status != 0:
        raise SystemExit(f"gifquant failed on {src} (exit {status})")
    return frames


def with_pillows_lzw(gif: bytes, frames: list[np.ndarray]) -> bytes:
    """``gif`` with each image's data replaced by Pillow's encoding of the same indices."""
    f = io.BytesIO(gif)
    read_header(f)
    images = [b for b in blocks(f) if b.kind == IMAGE]
    assert len(images) == len(frames), (len(images), len(frames))
    out, at = [], 0
    for block, idx in zip(images, frames, strict=True):
        h, w = idx.shape
        im = Image.frombuffer("P", (w, h), idx.tobytes(), "raw", "P", 0, 1)
        out += [gif[at : block.data], b"\x08" + im.tobytes("gif", "P") + b"\x00"]
        at = block.end
    return b"".join(out) + gif[at:]


def image_data_bytes(gif: bytes) -> int:
    """Bytes of the LZW image data (code size, sub-blocks) of all the images in ``gif``."""
    f = io.BytesIO(gif)
    read_header(f)
    images = [b for b in blocks(f) if b.kind == IMAGE]  # (``end`` is set once walked past)
    return sum(b.end - b.data for b in images)


def rgba_frames(data: bytes) -> list[np.ndarray]:
    with Image.open(io.BytesIO(data)) as im:
        return [np.asarray(fr.convert("RGBA")) for fr in ImageSequence.Iterator(im)]


def ffmpeg_bytes(src: Path, k: int, tmp: Path) -> int | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    out = tmp / "ffmpeg.gif"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(src)]
    cmd += ["-vf", FFMPEG_GLOBAL.format(k=k), "-fps_mode", "passthrough", str(out)]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        return None
    return out.stat().st_size


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", type=Path)
    parser.add_argument("-k", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--ffmpeg", action="store_true", help="ffmpeg's bytes too (slower)")
    args = parser.parse_args(argv)
    inputs = args.inputs or [
        *sorted((REPO.parent / "shared" / "corpus").glob("*.gif")),
        *sorted((REPO.parent / "clips").glob("*.mkv")),
    ]
    gifsicle = shutil.which("gifsicle")
    print(
        "| input | k | frames | ours before (Pillow's LZW) | ours after | gifsicle re-encode "
        "| after / gifsicle | image data after / gifsicle | ffmpeg | same frames |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for src in inputs:
        for k in args.k:
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                ours = tmp / "ours.gif"
                frames = run_gifquant(src, ours, k)
                after = ours.read_bytes()
                before = with_pillows_lzw(after, frames)
                re_bytes = data_ratio = None
                if gifsicle:
                    p = subprocess.run([gifsicle, str(ours)], capture_output=True)
                    if p.returncode == 0:
                        re_bytes = len(p.stdout)
                        data_ratio = image_data_bytes(after) / image_data_bytes(p.stdout)
                ff = ffmpeg_bytes(src, k, tmp) if args.ffmpeg else None
                a, b = rgba_frames(before), rgba_frames(after)
                same = len(a) == len(b) and all(map(np.array_equal, a, b))
            ratio = f"{len(after) / re_bytes:.4f}" if re_bytes else "-"
            print(
                f"| {src.name} | {k} | {len(frames)} | {len(before):,} | {len(after):,} | "
                f"{re_bytes or 0:,} | {ratio} | {f'{data_ratio:.4f}' if data_ratio else '-'} | "
                f"{f'{ff:,}' if ff else '-'} | "
                f"{'yes' if same else 'NO'} |",
                flush=True,
            )


if __name__ == "__main__":
    main_()
