"""Pictures of palettes, drawn with Pillow: swatches, timelines, pixel plots, labelled rows.

Widths and heights of segments are split by largest remainder, so each is within one pixel of
its exact share and they add up to the whole. Text uses the font Pillow ships.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .._core.colour import rgb_to_lab
from .model import Palette

BACKGROUND = (24, 24, 24)
INK = (235, 235, 235)


def split(total: int, shares: NDArray) -> NDArray[np.int64]:
    """Whole parts of ``total`` in proportion to ``shares``, each within one of exact, adding
    up to ``total`` (largest remainder)."""
    shares = np.asarray(shares, np.float64)
    if shares.sum() <= 0:
        return np.zeros(len(shares), np.int64)
    exact = total * shares / shares.sum()
    parts = np.floor(exact).astype(np.int64)
    rest = total - int(parts.sum())
    if rest:
        parts[np.argsort(-(exact - parts), kind="stable")[:rest]] += 1
    return parts


def swatch(p: Palette, width: int = 600, height: int = 80) -> Image.Image:
    """A bar of ``p``'s colours, each segment as wide as its share."""
    _check_size(width, height)
    im = Image.new("RGB", (width, height), BACKGROUND)
    x = 0
    for colour, w in zip(p.colours.tolist(), split(width, p.shares), strict=True):
        if w:
            im.paste(tuple(colour), (x, 0, x + int(w), height))
        x += int(w)
    return im


def timeline(frames: Sequence[Palette], px: int = 4, height: int = 120) -> Image.Image:
    """One column ``px`` wide per frame, its palette stacked top down, each colour as tall as
    its share, lightest first (a fixed order, so that a palette that holds still draws straight
    bands and one that flickers draws noise)."""
    _check_size(px, height)
    a = np.empty((height, px * len(frames), 3), np.uint8)
    a[:] = BACKGROUND
    for i, p in enumerate(frames):
        order = np.argsort(-rgb_to_lab(p.colours)[:, 0], kind="stable")
        y = 0
        for colour, h in zip(p.colours[order], split(height, p.shares[order]), strict=True):
            a[y : y + h, i * px : (i + 1) * px] = colour
            y += h
    return Image.fromarray(a)


def labelled_rows(rows: Sequence[tuple[str, Image.Image]], gap: int = 4) -> Image.Image:
    """Pictures stacked top down, each under a line of text."""
    font = ImageFont.load_default(size=12)
    line = 16
    width = max(max(im.width, int(font.getlength(label)) + 4) for label, im in rows)
    height = sum(line + im.height + gap for _, im in rows) - gap
    out = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(out)
    y = 0
    for label, im in rows:
        draw.text((2, y + 1), label, fill=INK, font=font)
        out.paste(im, (0, y + line))
        y += line + im.height + gap
    return out


def projections(
    lab: NDArray, colours: NDArray[np.uint8], centres_lab: NDArray, centre_colours, size=240
) -> Image.Image:
    """Three 2-D views (a*-b*, L*-a*, L*-b*) of pixels in CIELAB, each dot in its cluster's
    colour, the centres ringed."""
    font = ImageFont.load_default(size=12)
    axes = [
        ((1, -100, 100), (2, -100, 100)),
        ((1, -100, 100), (0, 0, 100)),
        ((2, -100, 100), (0, 0, 100)),
    ]
    names = [("a*", "b*"), ("a*", "L*"), ("b*", "L*")]
    out = Image.new("RGB", (3 * size + 2 * 8, size + 16), BACKGROUND)
    draw = ImageDraw.Draw(out)
    for n, ((xi, x0, x1), (yi, y0, y1)) in enumerate(axes):
        ox = n * (size + 8)
        draw.rectangle((ox, 16, ox + size - 1, 16 + size - 1), outline=(70, 70, 70))
        draw.text((ox + 2, 1), f"{names[n][0]} (across) / {names[n][1]} (up)", fill=INK, font=font)

        def at(v, xi=xi, x0=x0, x1=x1, yi=yi, y0=y0, y1=y1, ox=ox):
            x = ox + (v[..., xi] - x0) / (x1 - x0) * (size - 1)
            y = 16 + (1 - (v[..., yi] - y0) / (y1 - y0)) * (size - 1)
            return np.clip(x, ox, ox + size - 1), np.clip(y, 16, 16 + size - 1)

        xs, ys = at(lab)
        for x, y, c in zip(xs.tolist(), ys.tolist(), colours.tolist(), strict=True):
            draw.rectangle((x - 1, y - 1, x + 1, y + 1), fill=tuple(c))
        cx, cy = at(centres_lab)
        for x, y, c in zip(cx.tolist(), cy.tolist(), centre_colours.tolist(), strict=True):
            draw.ellipse((x - 5, y - 5, x + 5, y + 5), outline=INK, fill=tuple(c))
    return out


def _check_size(*sides: int) -> None:
    for s in sides:
        if not isinstance(s, (int, np.integer)) or not 1 <= s <= 16384:
            raise ValueError(f"picture sizes must be whole numbers 1..16384, not {s!r}")
