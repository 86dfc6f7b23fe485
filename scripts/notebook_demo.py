"""What a notebook does with gifquant, as a script: each cell below is one a user would run.

    python scripts/notebook_demo.py [CLIP] [--html OUT.html]

CLIP defaults to ../shared/corpus/newtonscradle.gif when present, else samples/shapes.gif.
It converts the clip, quantizes frames read with imageio and with OpenCV, renders the
animation's HTML (as Jupyter would show it) and checks that the HTML holds a GIF that plays:
every frame there, at most k colours each. Exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import base64
import io
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    corpus = ROOT.parent / "shared" / "corpus" / "newtonscradle.gif"
    ap.add_argument(
        "clip", nargs="?", default=str(corpus if corpus.exists() else ROOT / "samples/shapes.gif")
    )
    ap.add_argument("--html", help="also write the animation's HTML to this file")
    args = ap.parse_args(argv)

    # In [1]: convert a file, as the command line does, and read what it measured
    import cv2
    import imageio.v3 as iio
    import numpy as np
    from PIL import Image

    import gifquant

    with tempfile.TemporaryDirectory() as tmp:
        report = gifquant.convert(args.clip, Path(tmp) / "out.gif", k=4, stats=True)
    print(
        f"convert: {report.frames} frames, dE {report.dE:.2f}, flicker {report.flicker:.3f}, "
        f"{report.colours_on_screen} colours on screen, {report.bytes} bytes"
    )
    assert report.colours_on_screen <= 4

    # In [2]: frames read with imageio, quantized in memory: same shape back
    frames = iio.imread(args.clip)
    if frames.ndim == 3:  # a still image
        frames = frames[None]
    out = gifquant.quantize(frames, k=4)
    print(f"imageio: {frames.shape} {frames.dtype} -> {out.shape} {out.dtype}")
    assert out.shape == frames.shape
    assert max(len(np.unique(f.reshape(-1, f.shape[-1]), axis=0)) for f in out) <= 4 + 1

    # In [3]: frames read with OpenCV (BGR), streamed one at a time
    cap = cv2.VideoCapture(args.clip)
    bgr = []
    while len(bgr) < 10:
        ok, f = cap.read()
        if not ok:
            break
        bgr.append(f)
    cap.release()
    if bgr:
        streamed = list(gifquant.quantize(iter(bgr), k=6, bgr=True))
        print(f"OpenCV: {len(bgr)} BGR frames {bgr[0].shape} -> {len(streamed)} frames")
        assert len(streamed) == len(bgr) and streamed[0].shape == bgr[0].shape
    else:
        print("OpenCV: this clip is not one OpenCV reads; skipped")

    # In [4]: an animation that plays inline (Jupyter calls _repr_html_)
    anim = gifquant.quantize(frames, k=4, durations=0.08, as_animation=True)
    html = anim._repr_html_()
    gif = base64.b64decode(re.search(r"data:image/gif;base64,([A-Za-z0-9+/=]+)", html).group(1))
    with Image.open(io.BytesIO(gif)) as im:
        n = getattr(im, "n_frames", 1)
        print(f"animation: {anim!r}; its HTML holds a {len(gif)}-byte GIF of {n} frames")
        assert im.format == "GIF" and n == len(frames)
    if args.html:
        Path(args.html).write_text(f"<!doctype html><html><body>{html}</body></html>")
    print("all checks hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
