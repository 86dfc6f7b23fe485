"""Quality metrics: colour error (CIE76 dE) against the source, and flicker between frames.

flicker: the mean CIE76 change of the output between consecutive frames, over the pixels whose
source changed by less than ``STILL_DE`` (1 dE): colour that moves where the picture stood still.
Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .colour import rgb_to_lab

STILL_DE = 1.0


def lab_image(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """CIELAB of an (..., 3) uint8 image, converting each distinct colour once."""
    flat = rgb.reshape(-1, 3)
    packed = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    uniq, inv = np.unique(packed, return_inverse=True)
    colours = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
    return rgb_to_lab(colours)[inv.reshape(-1)].reshape(rgb.shape)


def delta_e(lab_a: NDArray, lab_b: NDArray) -> NDArray[np.float32]:
    """CIE76 colour difference between two Lab arrays of the same shape (..., 3)."""
    d = np.asarray(lab_a, dtype=np.float32) - np.asarray(lab_b, dtype=np.float32)
    return np.sqrt((d * d).sum(-1))


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

    def update_lab(
        self, source_lab: NDArray, output_lab: NDArray, mask: NDArray[np.bool_] | None = None
    ) -> float:
        """As ``update``, with both frames already in CIELAB (height, width, 3)."""
        if mask is None:
            mask = np.ones(source_lab.shape[:2], dtype=bool)
        err = delta_e(source_lab[mask], output_lab[mask])
        de = float(err.mean()) if err.size else 0.0
        self.frame_de.append(de)
        if self._prev is not None and self._prev[0].shape == source_lab.shape:
            psrc, pout, pmask = self._prev
            both = mask & pmask
            still = both & (delta_e(source_lab, psrc) < STILL_DE)
            if still.any():
                self._flicker_sum += float(delta_e(output_lab[still], pout[still]).sum())
                self._flicker_n += int(still.sum())
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
