"""Side-by-side comparison frames: several palette images in one, each panel labelled.

The panels keep their own palettes; the composed frame's palette is their concatenation plus black
and white for the labels (and one transparent entry), so it must fit in 256 entries.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .._core.frames import QuantizedFrame

GAP = 2  # black pixels between panels
LABEL_COLOURS = 2  # black, white
# A narrower panel is drawn in a cell this wide, so its label can be read (a panel of a
# 1-pixel-wide source has its label all the same).
MIN_CELL = 120


def cell_width(w: int) -> int:
    """The width of the cell, under its label, that a panel ``w`` pixels wide is drawn in."""
    return max(w, MIN_CELL)


def label_height(frame_height: int, lines: int = 1) -> int:
    """Height of the label bar above the panels, for labels of ``lines`` lines."""
    return lines * max(14, min(32, frame_height // 12))


@lru_cache(maxsize=64)
def _label_mask(text: str, width: int, height: int) -> NDArray[np.bool_]:
    # Imported here: ImageDraw and ImageFont are 3 ms of the start-up of every run, and only
    # a comparison draws labels.
    from PIL import Image, ImageDraw, ImageFont

    lines = text.split("\n")
    line = height // len(lines)
    font = ImageFont.load_default(size=max(10, line - 2))
    im = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(im)
    for i, part in enumerate(lines):
        draw.text((3, i * line + line // 2), part, fill=255, font=font, anchor="lm")
    return np.asarray(im) >= 128


def grid_size(n: int, columns: int, w: int, h: int, lines: int = 1) -> tuple[int, int]:
    """Width and height of ``n`` panels of ``w`` x ``h`` in rows of ``columns``, each under
    a label of ``lines`` lines."""
    rows = -(-n // columns)
    bar = label_height(h, lines)
    return columns * cell_width(w) + (columns - 1) * GAP, rows * (bar + h) + (rows - 1) * GAP


def compose(
    panels: list[QuantizedFrame], labels: list[str], *, first: bool, columns: int | None = None
) -> QuantizedFrame:
    """Put ``panels`` (same size) in rows of ``columns`` (default: one row), each under its
    label, as one palette frame; a panel given twice (the same object) shares its palette
    entries.

    Unless ``first``, the result says what changed when every panel does (the label bars never
    change after the first frame).
    """
    h, w = panels[0].indices.shape
    lines = max(text.count("\n") + 1 for text in labels)
    bar = label_height(h, lines)
    cw = cell_width(w)  # a narrow panel in the middle of its cell
    columns = len(panels) if columns is None else columns
    width, height = grid_size(len(panels), columns, w, h, lines)
    black, white = 0, 1
    palettes = [np.array([[0, 0, 0], [255, 255, 255]], np.uint8)]
    offset = LABEL_COLOURS
    offsets = []
    seen: dict[int, int] = {}
    for p in panels:
        if id(p) in seen:
            offsets.append(seen[id(p)])
            continue
        seen[id(p)] = offset
        offsets.append(offset)
        pal = p.palette
        if p.transparent is not None and p.transparent == len(pal) - 1:
            pal = pal[:-1]  # the panels share one transparent entry
        palettes.append(pal)
        offset += len(pal)
    transparent = offset
    if offset + 1 > 256:
        raise ValueError(f"the panels need {offset + 1} palette entries, more than 256")
    out = np.full((height, width), black, dtype=np.uint16)
    tracked = not first and all(p.changed is not None for p in panels)
    changed = np.zeros(out.shape, dtype=bool) if tracked else None
    any_transparent = False
    for i, (p, text) in enumerate(zip(panels, labels, strict=True)):
        x = (i % columns) * (cw + GAP)
        y = (i // columns) * (bar + h + GAP)
        left = x + (cw - w) // 2
        idx = p.indices.astype(np.uint16) + offsets[i]
        if p.transparent is not None:
            hole = p.indices == p.transparent
            if hole.any():
                any_transparent = True
                idx[hole] = transparent
        out[y + bar : y + bar + h, left : left + w] = idx
        out[y : y + bar, x : x + cw][_label_mask(text, cw, bar)] = white
        if changed is not None:
            changed[y + bar : y + bar + h, left : left + w] = p.changed
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
