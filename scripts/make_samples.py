"""Generate the bundled sample clip(s) in samples/: small synthetic animations, made from scratch.

    python scripts/make_samples.py

shapes.gif: a static gradient background, a bouncing disc, a rotating square and a bar that
slowly changes colour; 36 frames of 128x96 at 20 fps, each frame with its own 256-colour palette.
compare-still.png: frame 12 of the README quick start's comparison (random | seeded | original at
k=4), made by running gifquant on shapes.gif with its defaults.
gallery-*.png: the README's gallery, made by the commands it shows on shapes.gif: a frame of
``gifquant compare -k 2 4 10`` (grid), the palette swatch, the random and seeded timelines, and
the pixels' 3-D view in CIELAB (``gifquant palette``).
pico8.hex, sunset.png: a fixed palette and a picture to take a palette from; gallery-fixed.png and
gallery-transfer.png: frame 12 of shapes.gif with ``--palette-from pico8.hex`` (plain and
dithered) and with ``--transfer sunset.png``, beside the original. gallery-picking.png: frame 12
at k=6 with the default colours, ``--enhance 1.6``, ``--min-saturation 0.5`` and
``--representative mode``.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gifquant import main as gifquant_main  # noqa: E402
from gifquant._core.frames import QuantizedFrame  # noqa: E402
from gifquant._io.gif.write import GifWriter  # noqa: E402

W, H, N, FPS = 128, 96, 36, 20
STILL_FRAME = 12


def shapes_frame(t: int) -> np.ndarray:
    """Frame ``t`` of the shapes animation as (H, W, 3) uint8."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.stack([40 + 120 * x / W, 60 + 80 * y / H, 150 - 60 * x / W], axis=-1)
    cx = 20 + (W - 40) * abs(math.sin(t * math.pi / N))
    cy = 24 + 40 * abs(math.cos(t * 2 * math.pi / N))
    cv2.circle(img, (int(cx), int(cy)), 13, (235, 200, 40), -1, lineType=cv2.LINE_AA)
    box = cv2.boxPoints(((88, 62), (28, 28), t * 360 / N)).astype(np.int32)
    cv2.fillPoly(img, [box], (200, 40, 60), lineType=cv2.LINE_AA)
    hue = (t / N) * 120
    bar = cv2.cvtColor(np.uint8([[[hue, 200, 220]]]), cv2.COLOR_HSV2RGB)[0, 0]
    img[H - 14 : H - 4, 8:60] = bar
    return np.clip(img, 0, 255).astype(np.uint8)


def write_gif(path: Path, frames, fps: int) -> None:
    with open(path, "wb") as f:
        w = GifWriter(f, W, H, loop=0)
        for rgb in frames:
            q = Image.fromarray(rgb).quantize(
                256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
            pal = np.asarray(q.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
            w.write(QuantizedFrame(np.asarray(q), pal, None, 1 / fps))
        w.close()


def main() -> None:
    out = Path(__file__).resolve().parents[1] / "samples"
    out.mkdir(exist_ok=True)
    write_gif(out / "shapes.gif", (shapes_frame(t) for t in range(N)), FPS)
    print(f"wrote {out / 'shapes.gif'}")
    with tempfile.TemporaryDirectory() as tmp:
        cmp = Path(tmp) / "compare.gif"
        argv = [str(out / "shapes.gif"), str(Path(tmp) / "out.gif"), "-k", "4", "-q"]
        argv += ["--compare", str(cmp), "--panels", "random,seeded,original"]
        if gifquant_main(argv) != 0:
            raise SystemExit("gifquant failed")
        with Image.open(cmp) as im:
            im.seek(STILL_FRAME)
            im.convert("RGB").save(out / "compare-still.png")
    print(f"wrote {out / 'compare-still.png'}")
    gallery(out)
    colour_gallery(out)


def gallery(out: Path) -> None:
    shapes = str(out / "shapes.gif")
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.gif"
        run(["compare", shapes, str(grid), "-k", "2", "4", "10", "-q"])
        with Image.open(grid) as im:
            im.seek(STILL_FRAME)
            im.convert("RGB").save(out / "gallery-grid.png")
    run(
        ["palette", shapes, "-k", "6", "-q", "-y", "-o", "/dev/null"]
        + ["--swatch", str(out / "gallery-swatch.png"), "--swatch-size", "480x40"]
        + ["--timeline", str(out / "gallery-timeline.png"), "--modes", "random", "seeded"]
        + ["--plot3d", str(out / "gallery-pixels.png")]
    )
    for name in ("grid", "swatch", "timeline", "pixels"):
        print(f"wrote {out / f'gallery-{name}.png'}")
    picking_gallery(out)


def picking_gallery(out: Path) -> None:
    """Frame 12 of shapes.gif at k=6, the source and each colour-picking option, side by side."""
    import gifquant
    from gifquant._io.streams import open_input
    from gifquant._pictures.draw import labelled_rows

    with open_input(str(out / "shapes.gif")) as reader:
        clip = np.stack([fr.rgba[..., :3] for fr in reader])
    columns = [("source", clip[STILL_FRAME])]
    for label, options in (
        ("k=6", {}),
        ("--enhance 1.6", {"enhance": 1.6}),
        ("--min-saturation 0.5", {"min_saturation": 0.5}),
        ("--representative mode", {"representative": "mode"}),
    ):
        columns.append((label, gifquant.quantize(clip, k=6, **options)[STILL_FRAME]))
    panels = [
        labelled_rows([(label, Image.fromarray(rgb).resize((2 * W, 2 * H), Image.NEAREST))])
        for label, rgb in columns
    ]
    sheet = Image.new("RGB", (sum(p.width + 4 for p in panels) - 4, panels[0].height), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 4
    sheet.save(out / "gallery-picking.png")
    print(f"wrote {out / 'gallery-picking.png'}")


PICO8 = (
    "000000 1d2b53 7e2553 008751 ab5236 5f574f c2c3c7 fff1e8 "
    "ff004d ffa300 ffec27 00e436 29adff 83769c ff77a8 ffccaa"
).split()


def sunset() -> np.ndarray:
    """A sunset, (H, W, 3) uint8: the target palette of the README's transfer example."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    top, mid, low = np.array([40, 24, 90]), np.array([235, 100, 70]), np.array([255, 200, 120])
    s = (y / (0.62 * H))[..., None]
    img = np.where(s < 0.6, top + (mid - top) * s / 0.6, mid + (low - mid) * (s - 0.6) / 0.4)
    sun = (x - 0.62 * W) ** 2 + (y - 0.52 * H) ** 2 < (0.11 * H) ** 2
    img[sun] = (255, 235, 160)
    hills = y > 0.62 * H + 6 * np.sin(x / 11.0) + 3 * np.sin(x / 4.3)
    img[hills] = (np.array([34, 22, 48]) + 14 * np.sin(x / 7.0)[..., None])[hills]
    return np.clip(img, 0, 255).astype(np.uint8)


def colour_gallery(out: Path) -> None:
    """The palette files of the README's fixed-palette and transfer examples, and their stills:
    a frame of shapes.gif before and after."""
    (out / "pico8.hex").write_text("".join(f"#{c}\n" for c in PICO8))
    Image.fromarray(sunset()).save(out / "sunset.png")
    shapes = str(out / "shapes.gif")
    stills = [np.asarray(_frame(shapes, STILL_FRAME))]
    with tempfile.TemporaryDirectory() as tmp:
        for extra in (
            ["--transfer", str(out / "sunset.png")],
            ["--palette-from", str(out / "pico8.hex")],
            ["--palette-from", str(out / "pico8.hex"), "--dither", "floyd-steinberg"],
        ):
            path = str(Path(tmp) / "out.gif")
            run([shapes, path, "-k", "16", "-q", "-y", *extra])
            stills.append(np.asarray(_frame(path, STILL_FRAME)))
    gap = np.full((H, 4, 3), 255, np.uint8)
    row = [stills[0], gap, stills[1], gap, sunset()]
    Image.fromarray(np.concatenate(row, 1)).save(out / "gallery-transfer.png")
    row = [stills[0], gap, stills[2], gap, stills[3]]
    Image.fromarray(np.concatenate(row, 1)).save(out / "gallery-fixed.png")
    for name in ("pico8.hex", "sunset.png", "gallery-transfer.png", "gallery-fixed.png"):
        print(f"wrote {out / name}")


def _frame(path: str, index: int) -> Image.Image:
    with Image.open(path) as im:
        im.seek(index)
        return im.convert("RGB")


def run(argv: list[str]) -> None:
    if gifquant_main(argv) != 0:
        raise SystemExit(f"gifquant {' '.join(argv)} failed")


if __name__ == "__main__":
    main()
