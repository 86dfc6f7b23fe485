"""Side-by-side comparison frames: several palette images in one, each panel labelled.

The panels keep their own palettes; the composed frame's palette is their concatenation plus black
and white for the labels (and one transparent entry), so it must fit in 256 entries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from ._frames import QuantizedFrame

GAP = 2  # black pixels between panels
LABEL_COLOURS = 2  # black, white


def label_height(frame_height: int) -> int:
    """Height of the label bar above the panels."""
    return max(14, min(32, frame_height // 12))


@lru_cache(maxsize=64)
def _label_mask(text: str, width: int, height: int) -> NDArray[np.bool_]:
    font = ImageFont.load_default(size=max(10, height - 2))
    im = Image.new("L", (width, height), 0)
    ImageDraw.Draw(im).text((3, height // 2), text, fill=255, font=font, anchor="lm")
    return np.asarray(im) >= 128


def compose(panels: list[QuantizedFrame], labels: list[str], *, first: bool) -> QuantizedFrame:
    """Put ``panels`` (same size) side by side under their ``labels``, as one palette frame.

    Unless ``first``, the result says what changed when every panel does (the label bar never
    changes after the first frame).
    """
    h, w = panels[0].indices.shape
    bar = label_height(h)
    n = len(panels)
    width = n * w + (n - 1) * GAP
    black, white = 0, 1
    palettes = [np.array([[0, 0, 0], [255, 255, 255]], np.uint8)]
    offset = LABEL_COLOURS
    offsets = []
    for p in panels:
        offsets.append(offset)
        pal = p.palette
        if p.transparent is not None and p.transparent == len(pal) - 1:
            pal = pal[:-1]  # the panels share one transparent entry
        palettes.append(pal)
        offset += len(pal)
    transparent = offset
    if offset + 1 > 256:
        raise ValueError(f"the panels need {offset + 1} palette entries, more than 256")
    out = np.full((bar + h, width), black, dtype=np.uint16)
    tracked = not first and all(p.changed is not None for p in panels)
    changed = np.zeros(out.shape, dtype=bool) if tracked else None
    any_transparent = False
    for i, (p, text) in enumerate(zip(panels, labels, strict=True)):
        x = i * (w + GAP)
        idx = p.indices.astype(np.uint16) + offsets[i]
        if p.transparent is not None:
            hole = p.indices == p.transparent
            if hole.any():
                any_transparent = True
                idx[hole] = transparent
        out[bar:, x : x + w] = idx
        out[:bar, x : x + w][_label_mask(text, w, bar)] = white
        if changed is not None:
            changed[bar:, x : x + w] = p.changed
    palette = np.concatenate(palettes)
    if any_transparent:
        palette = np.concatenate([palette, np.zeros((1, 3), np.uint8)])
    return QuantizedFrame(
        out.astype(np.uint8),
        palette,
        transparent if any_transparent else None,
        panels[0].duration,
        changed=changed,
    )
