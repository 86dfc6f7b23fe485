"""Make the docs' pictures from generated clips (never from the corpus).

    python scripts/make_doc_pictures.py

docs/images/denoise-crop.png: a still street with camera noise on its left half
(``make_camera_clips.py``'s ``partial`` clip), 3x crops over four consecutive frames of the
source, of gifquant with ``--denoise off`` and of its default, k=256.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageSequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import make_camera_clips  # noqa: E402

import gifquant  # noqa: E402

ZOOM, FRAMES, CROP = 3, 4, (8, 96, 120, 60)  # x, y, w, h in the 320x180 clip


def decoded(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def main() -> None:
    frames = make_camera_clips.frames("partial", 12, 320, 180)
    rows = {"source": list(frames)}
    with tempfile.TemporaryDirectory() as tmp:
        for label, denoise in (("--denoise off", "off"), ("default", "auto")):
            out = Path(tmp) / f"{denoise}.gif"
            ims = [Image.fromarray(f) for f in frames]
            src = Path(tmp) / "src.png"
            ims[0].save(src, save_all=True, append_images=ims[1:], duration=50, loop=0)
            report = gifquant.convert(src, out, k=256, denoise=denoise)
            rows[f"{label}: {report.bytes // 1000} KB"] = decoded(out)
    x, y, w, h = CROP
    first = 6
    tiles = []
    for label, fr in rows.items():
        crops = [fr[i][y : y + h, x : x + w] for i in range(first, first + FRAMES)]
        strip = np.concatenate([np.pad(c, ((0, 0), (0, 2), (0, 0))) for c in crops], 1)
        strip = np.kron(strip, np.ones((ZOOM, ZOOM, 1), np.uint8))
        im = Image.new("RGB", (strip.shape[1], strip.shape[0] + 16), "white")
        im.paste(Image.fromarray(strip), (0, 16))
        ImageDraw.Draw(im).text((4, 2), f"{label} (frames {first}-{first + FRAMES - 1})", "black")
        tiles.append(np.asarray(im))
    sheet = np.concatenate(
        [np.pad(t, ((0, 6), (0, 0), (0, 0)), constant_values=255) for t in tiles]
    )
    dst = REPO / "docs" / "images" / "denoise-crop.png"
    Image.fromarray(sheet).save(dst, optimize=True)
    print(dst)


if __name__ == "__main__":
    main()
