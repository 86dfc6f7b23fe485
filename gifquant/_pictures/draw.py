"""Pictures of palettes, drawn with Pillow: swatches, timelines, pixel plots, labelled rows.

Widths and heights of segments are split by largest remainder, so each is within one pixel of
its exact share and they add up to the whole. Text uses the font Pillow ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Axis:
    """One axis of a 3-D plot: its name, range and tick values."""

    name: str
    lo: float
    hi: float
    ticks: tuple[float, ...]


# The plots' axes in each colour space: across, into the picture, up (lightness, or blue).
PLOT_AXES: dict[str, tuple[Axis, Axis, Axis]] = {
    "lab": (
        Axis("a*", -100, 100, (-100, -50, 0, 50, 100)),
        Axis("b*", -100, 100, (-100, -50, 0, 50, 100)),
        Axis("L*", 0, 100, (0, 25, 50, 75, 100)),
    ),
    "oklab": (
        Axis("a", -0.3, 0.3, (-0.3, -0.15, 0, 0.15, 0.3)),
        Axis("b", -0.3, 0.3, (-0.3, -0.15, 0, 0.15, 0.3)),
        Axis("L", 0, 1, (0, 0.25, 0.5, 0.75, 1)),
    ),
    "rgb": (
        Axis("R", 0, 255, (0, 64, 128, 192, 255)),
        Axis("G", 0, 255, (0, 64, 128, 192, 255)),
        Axis("B", 0, 255, (0, 64, 128, 192, 255)),
    ),
}


def scatter3d(
    points: NDArray,
    colours: NDArray[np.uint8],
    centres: NDArray,
    centre_colours: NDArray[np.uint8],
    axes: Sequence[Axis],
    title: str,
    size: int = 480,
) -> Image.Image:
    """A 3-D view of ``points`` (n, 3) in ``axes`` (across, into the picture, up), from the
    front left and a little above: each dot in ``colours`` (n, 3), nearer dots over farther
    ones, ``centres`` (m, 3) as ringed discs in ``centre_colours``, inside the axes' box with
    its ticks and names."""
    font = ImageFont.load_default(size=12)
    out = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(out)
    lo = np.array([a.lo for a in axes], np.float64)
    hi = np.array([a.hi for a in axes], np.float64)
    turn, tilt = np.radians(-35.0), np.radians(22.0)
    scale, middle = 0.3 * size, (size / 2, size / 2 + 10)

    def view(v) -> tuple[NDArray, NDArray, NDArray]:
        """Screen x, y and depth (larger: farther) of points in the axes' units."""
        u = 2 * (np.asarray(v, np.float64) - lo) / (hi - lo) - 1
        x = u[..., 0] * np.cos(turn) - u[..., 1] * np.sin(turn)
        d = u[..., 0] * np.sin(turn) + u[..., 1] * np.cos(turn)
        up = u[..., 2] * np.cos(tilt) + d * np.sin(tilt)
        return (
            middle[0] + scale * x,
            middle[1] - scale * up,
            d * np.cos(tilt) - u[..., 2] * np.sin(tilt),
        )

    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.float64)
    box = lo + corners * (hi - lo)
    bx, by, _ = view(box)
    for a in range(8):
        for b in range(a + 1, 8):
            if np.abs(corners[a] - corners[b]).sum() == 1:
                draw.line((bx[a], by[a], bx[b], by[b]), fill=(80, 80, 80))
    # Ticks and names on the three edges at the front: across and into along the bottom, up
    # on the left (into's first tick is across's last corner: not labelled twice).
    for n, edge_at in enumerate(((None, 0, 0), (1, None, 0), (0, 0, None))):
        axis = axes[n]

        def on_edge(t, edge_at=edge_at):
            return view(
                [lo[i] if e == 0 else hi[i] if e == 1 else t for i, e in enumerate(edge_at)]
            )

        for t in axis.ticks[1:] if n == 1 else axis.ticks:
            x, y, _ = on_edge(t)
            draw.line((x - 3, y, x + 3, y), fill=INK)
            label = f"{t:g}"
            dx = -int(font.getlength(label)) - 6 if n == 2 else 4
            draw.text((x + dx, y + (-7 if n == 2 else 4)), label, fill=INK, font=font)
        if n == 2:  # above the top of the vertical edge
            x, y, _ = on_edge(axis.hi)
            draw.text((x - 4, y - 24), axis.name, fill=INK, font=font)
        else:
            x, y, _ = on_edge((axis.lo + axis.hi) / 2)
            draw.text((x - 6, y + 20), axis.name, fill=INK, font=font)
    xs, ys, depth = view(points)
    for i in np.argsort(-depth, kind="stable").tolist():
        draw.rectangle(
            (xs[i] - 1, ys[i] - 1, xs[i] + 1, ys[i] + 1), fill=tuple(colours[i].tolist())
        )
    cx, cy, cd = view(centres)
    for i in np.argsort(-cd, kind="stable").tolist():
        c = tuple(centre_colours[i].tolist())
        draw.ellipse((cx[i] - 6, cy[i] - 6, cx[i] + 6, cy[i] + 6), outline=INK, fill=c, width=2)
    draw.text((4, 2), title, fill=INK, font=font)
    return out


def _check_size(*sides: int) -> None:
    for s in sides:
        if not isinstance(s, (int, np.integer)) or not 1 <= s <= 16384:
            raise ValueError(f"picture sizes must be whole numbers 1..16384, not {s!r}")
