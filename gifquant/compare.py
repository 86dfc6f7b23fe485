"""Side-by-side comparison frames: several palette images in one, each panel labelled.

The panels keep their own palettes; the composed frame's palette is their concatenation plus black
and white for the labels (and one transparent entry), so it must fit in 256 entries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .frames import QuantizedFrame

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

    When every panel is a delta frame (or ``first``), so is the result: unchanged pixels stay
    transparent and the label bar is drawn on the ``first`` frame only.
    """
    h, w = panels[0].indices.shape
    bar = label_height(h)
    n = len(panels)
    width = n * w + (n - 1) * GAP
    black, white = 0, 1
    delta = all(p.delta for p in panels)
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
    fill = transparent if delta and not first else black
    out = np.full((bar + h, width), fill, dtype=np.uint16)
    any_transparent = delta
    screens = []
    for i, (p, text) in enumerate(zip(panels, labels, strict=True)):
        x = i * (w + GAP)
        idx = p.indices.astype(np.uint16) + offsets[i]
        if p.transparent is not None:
            hole = p.indices == p.transparent
            if hole.any():
                any_transparent = True
                idx[hole] = transparent
        out[bar:, x : x + w] = idx
        if fill == black:
            out[:bar, x : x + w][_label_mask(text, w, bar)] = white
        screens.append(p.rgb())
    palette = np.concatenate(palettes)
    if any_transparent:
        palette = np.concatenate([palette, np.zeros((1, 3), np.uint8)])
    screen = None
    if delta:
        full = np.zeros((bar + h, width, 3), np.uint8)
        for i, (scr, text) in enumerate(zip(screens, labels, strict=True)):
            x = i * (w + GAP)
            full[bar:, x : x + w] = scr
            full[:bar, x : x + w][_label_mask(text, w, bar)] = 255
        screen = full
    return QuantizedFrame(
        out.astype(np.uint8),
        palette,
        transparent if any_transparent else None,
        panels[0].duration,
        delta=delta,
        screen=screen,
    )
