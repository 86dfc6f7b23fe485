"""Quality metrics: colour error (CIE76 dE) against the source, and flicker between frames.

flicker: the mean CIE76 change of the output between consecutive frames, over the pixels whose
source changed by less than ``STILL_DE`` (1 dE): colour that moves where the picture stood still.
Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .colour import pack_rgb, rgb_to_lab
from .quantize import shared_indexer

STILL_DE = 1.0


def lab_image(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """CIELAB of an (..., 3) uint8 image, converting each distinct colour once."""
    colours, _, inverse = shared_indexer().index(pack_rgb(rgb))
    return np.take(rgb_to_lab(colours), inverse, axis=0).reshape(rgb.shape)


def _squared_de(lab_a: NDArray, lab_b: NDArray) -> NDArray[np.float32]:
    # Channel by channel on one temporary: a third of the memory traffic of (d * d).sum(-1).
    d = np.subtract(lab_a, lab_b, dtype=np.float32)
    np.multiply(d, d, out=d)
    s = np.add(d[..., 0], d[..., 1], out=np.empty(d.shape[:-1], dtype=np.float32))
    s += d[..., 2]
    return s


def delta_e(lab_a: NDArray, lab_b: NDArray) -> NDArray[np.float32]:
    """CIE76 colour difference between two Lab arrays of the same shape (..., 3)."""
    s = _squared_de(lab_a, lab_b)
    return np.sqrt(s, out=s)


@dataclass
class QualityMeter:
    """Accumulates dE and flicker over a clip, frame by frame (two frames held at most)."""

    frame_de: list[float] = field(default_factory=list)
    _flicker_sum: float = 0.0
    _flicker_n: int = 0
    _prev: tuple[NDArray, NDArray, NDArray] | None = None

    def update(
        self,
        source_rgb: NDArray[np.uint8],
        output_rgb: NDArray[np.uint8],
        mask: NDArray[np.bool_] | None = None,
    ) -> float:
        """Add one frame (both (height, width, 3) uint8); ``mask`` marks the pixels that count.

        Returns the frame's mean dE.
        """
        return self.update_lab(lab_image(source_rgb), lab_image(output_rgb), mask)

    def update_indexed(
        self,
        source_colours: NDArray[np.uint8],
        source_inverse: NDArray[np.integer],
        mask: NDArray[np.bool_],
        indices: NDArray[np.uint8],
        palette: NDArray[np.uint8],
    ) -> float:
        """As ``update``, with the frames as a quantizer holds them (no per-pixel colour search).

        source_colours : (n_colours, 3) uint8, the distinct colours of the masked source pixels
        source_inverse : (mask.sum(),) index into ``source_colours`` of each masked pixel, in
            row-major order
        mask : (height, width) bool, the pixels that count
        indices, palette : the output as a palette image, (height, width) uint8 and (p, 3) uint8
        """
        src_lut = rgb_to_lab(source_colours)
        if mask.all():
            src = np.take(src_lut, source_inverse, axis=0).reshape(mask.shape + (3,))
        else:
            src = np.zeros(mask.shape + (3,), dtype=np.float32)
            src[mask] = np.take(src_lut, source_inverse, axis=0)
        out = np.take(rgb_to_lab(palette), indices, axis=0)
        return self.update_lab(src, out, mask)

    def update_lab(
        self, source_lab: NDArray, output_lab: NDArray, mask: NDArray[np.bool_] | None = None
    ) -> float:
        """As ``update``, with both frames already in CIELAB (height, width, 3)."""
        full = mask is None or bool(mask.all())
        if mask is None:
            mask = np.ones(source_lab.shape[:2], dtype=bool)
        # Per pixel over the whole frame, then masked: cheaper than gathering (n, 3) rows.
        err = delta_e(source_lab, output_lab)
        if full:
            de = float(err.mean()) if err.size else 0.0
        else:
            err = err[mask]
            de = float(err.mean()) if err.size else 0.0
        self.frame_de.append(de)
        if self._prev is not None and self._prev[0].shape == source_lab.shape:
            psrc, pout, pmask = self._prev
            still = _squared_de(source_lab, psrc) < STILL_DE * STILL_DE
            if not full or not pmask.all():
                still &= mask & pmask
            n_still = int(np.count_nonzero(still))
            if n_still:
                moved = delta_e(output_lab, pout)
                self._flicker_sum += float(moved[still].sum(dtype=np.float64))
                self._flicker_n += n_still
        self._prev = (source_lab, output_lab, mask)
        return de

    @property
    def mean_de(self) -> float:
        """Mean over frames of each frame's mean dE."""
        return float(np.mean(self.frame_de)) if self.frame_de else 0.0

    @property
    def flicker(self) -> float:
        """Mean output change (dE) over still source pixels of consecutive frames."""
        return self._flicker_sum / self._flicker_n if self._flicker_n else 0.0
