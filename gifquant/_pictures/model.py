"""A palette: colours with their shares of the pixels, most common first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Palette:
    """Colours with their shares of the (opaque) pixels, most common first.

    colours : ndarray of shape (n, 3), uint8 sRGB
    shares : ndarray of shape (n,), float, summing to 1 (0 for a fully transparent frame)
    """

    colours: NDArray[np.uint8]
    shares: NDArray[np.float64]

    @property
    def hex(self) -> list[str]:
        return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in self.colours.tolist()]

    def records(self) -> list[dict[str, object]]:
        return [
            {"colour": h, "share": round(float(s), 6)}
            for h, s in zip(self.hex, self.shares, strict=True)
        ]

    def _repr_html_(self) -> str:
        """In a notebook: a bar of the colours, each as wide as its share, then each colour's
        chip, hex code and share."""
        pairs = list(zip(self.hex, self.shares.tolist(), strict=True))
        bar = "".join(
            f'<div title="{h} {100 * s:.1f}%" style="background:{h};flex:{s:.6f} 1 0"></div>'
            for h, s in pairs
        )
        chips = "".join(
            '<span style="display:inline-block;margin:2px 10px 2px 0;font:12px monospace">'
            f'<span style="display:inline-block;width:12px;height:12px;background:{h};'
            f'border:1px solid #888;vertical-align:middle"></span> {h} {100 * s:.1f}%</span>'
            for h, s in pairs
        )
        return (
            f"<div><div>Palette of {len(pairs)} colour{'s' * (len(pairs) != 1)}</div>"
            f'<div style="display:flex;width:480px;height:24px;border:1px solid #888">{bar}</div>'
            f'<div style="max-width:640px">{chips}</div></div>'
        )


def sorted_palette(colours: NDArray[np.uint8], counts: NDArray) -> Palette:
    """Entries with pixels, one per colour (counts of a colour listed twice summed), most
    common first."""
    keep = counts > 0
    colours, inverse = np.unique(colours[keep], axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=counts[keep], minlength=len(colours))
    order = np.lexsort((colours[:, 2], colours[:, 1], colours[:, 0], -counts))
    total = counts.sum()
    shares = counts[order] / total if total else counts[order]
    return Palette(colours[order].astype(np.uint8), shares)
