"""Quality metrics: colour error (CIE76 dE) against the source, flicker, incoherence, colours.

flicker: the mean CIE76 change of the output between consecutive frames, over the pixels whose
source changed by less than ``STILL_DE`` (1 dE): colour that moves where the picture stood still.

incoherence: over the pixels whose source colour is exactly that of the previous frame, the share
whose output is more than ``JND_DE`` (2.3 dE, CIE76) from the output most pixels of the same exact
source colour got in that frame (the majority taken over all pixels of the frame); averaged over
the frames that have such pixels. Any plain per-frame palette mapping scores 0; holding pixels at
colours their peers no longer get raises it (dithering too, by design).

ghosts: incoherence counted at ``GHOST_DE`` (4.6 dE, 2 JND): still source pixels shown clearly off
what the other pixels of their colour show, as a stale object or a ghost is.

dE_p99: the 99th percentile of a frame's per-pixel dE, averaged over frames: the tail where trails,
lost objects and posterized edges show, which the mean hides.

banding: over the smooth areas of the source (the gradient of the source blurred as the eye sees
it, sigma 1.5 px, under ``SMOOTH_DE`` dE a pixel), the share where the blurred output has an edge
(over ``EDGE_DE`` dE a pixel): the false contours of a posterized gradient (a fine dither blurs
away); averaged over the frames that have smooth areas. Not measured on frames of
``BANDED_PIXELS`` or more (their Lab images are never held whole).

colours on screen: the distinct output colours of a frame; ``colours_max`` is the most of any frame.

Both follow the independent judge (``shared/tools/judge.py``), except that only the pixels a mask
marks count: the judge composites transparent pixels over black, so on frames with transparency
it sees black pixels (one more colour on screen, and more static pixels) that are not counted here.
Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .colour import delta_e, pack_rgb, squared_de, unpack_rgb
from .distinct import DistinctColours, gather, shared_indexer

STILL_DE = 1.0
JND_DE = 2.3
GHOST_DE = 4.6
SMOOTH_DE, EDGE_DE = 0.25, 0.6

# Stands for a previous pixel that did not count: no 0xRRGGBB word equals it.
_NOT_COUNTED = np.uint32(0xFF000000)
# Frames of at least this many pixels are measured band by band from their palette images
# (``update_indexed``) instead of as whole Lab images (24 bytes a pixel each, two frames held);
# the sums then run in float64 per band, so the figures may differ in the last digits.
BANDED_PIXELS = 1 << 22
# Pixels handled at a time by the banded and chunked paths.
_BAND = 1 << 16


@dataclass(frozen=True)
class _IndexedFrame:
    """A frame as palette images, for the banded path: source Lab ``lut[inverse]`` over the
    ``mask`` (row-major), output Lab ``out_lut[indices]``; ``row_start[r]``: inverse entries
    before row r."""

    lut: NDArray[np.float32]
    inverse: NDArray[np.integer]
    mask: NDArray[np.bool_]
    full: bool
    row_start: NDArray[np.int64] | None
    out_lut: NDArray[np.float32]
    indices: NDArray[np.uint8]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.mask.shape

    def band(self, top: int, bottom: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Source and output Lab of rows ``top:bottom``, (n, 3) each (0 where not masked)."""
        w = self.mask.shape[1]
        if self.full:
            src = self.lut[self.inverse[top * w : bottom * w]]
        else:
            sel = self.mask[top:bottom].reshape(-1)
            src = np.zeros((len(sel), 3), np.float32)
            src[sel] = self.lut[self.inverse[self.row_start[top] : self.row_start[bottom]]]
        out = self.out_lut[self.indices[top:bottom].reshape(-1)]
        return src, out


def judge_lab(rgb: NDArray) -> NDArray[np.float32]:
    """CIELAB (..., 3) float32 of sRGB (..., 3) as the judge computes it: OpenCV's conversion of
    float RGB in 0..1, whose tables round a and b to 1/64 and differ from the exact formula
    (``colour.rgb_to_lab``) by up to about 0.5 dE a colour. With it the meter's ghosts, counted
    at 4.6 dE, agree with the judge's on pairs of colours near that line."""
    import cv2  # here: only the meter needs it (~25 ms to import)

    flat = np.asarray(rgb, dtype=np.float32).reshape(1, -1, 3) / np.float32(255.0)
    if flat.shape[1] == 0:
        return np.zeros(np.shape(rgb), np.float32)
    return cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).reshape(np.shape(rgb))


def lab_image(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """CIELAB of an (..., 3) uint8 image, converting each distinct colour once."""
    return _lab_of_packed(pack_rgb(rgb), rgb.shape)


def _lab_of_packed(key: NDArray[np.uint32], shape: tuple[int, ...]) -> NDArray[np.float32]:
    colours, _, inverse = shared_indexer().index(key)
    return judge_lab(colours)[inverse].reshape(shape)


def frame_coherence(
    source: NDArray[np.uint32],
    output: NDArray[np.uint32],
    static: NDArray[np.bool_] | None,
    n_colours: int | None = None,
) -> tuple[tuple[float, float] | None, int]:
    """Incoherence, ghosts and colours on screen of one frame.

    source, output : ndarray of shape (n_pixels,), uint32 ``0xRRGGBB`` words of the counted pixels
    static : ndarray of shape (n_pixels,), bool, the pixels whose source is exactly that of the
        previous frame; None on a first frame
    n_colours : the distinct words of ``output``, when the caller knows them (else counted here)

    Returns (shares of static pixels more than ``JND_DE`` and more than ``GHOST_DE`` from their
    source colour's majority output, or None when no pixel is static; number of distinct
    output colours).
    """
    if n_colours is None:
        n_colours = _n_distinct(output)
    n_static = 0 if static is None else int(np.count_nonzero(static))
    if n_static == 0:
        return None, n_colours
    # One sort of source << 25 | output << 1 | static: pixels of a source colour are neighbours,
    # within them those of one output, static ones last.
    key = np.left_shift(source, 25, dtype=np.uint64)
    key |= np.left_shift(output, 1, dtype=np.uint64)
    key |= static
    return _incoherence(key, n_static), n_colours


def _incoherence(key: NDArray[np.uint64], n_static: int) -> tuple[float, float]:
    """``frame_coherence``'s shares (at ``JND_DE`` and at ``GHOST_DE``) from its keys (sorted
    here, in place) and static count."""
    key.sort()
    new_pair, new_source = _steps(key)
    if np.count_nonzero(new_pair) == np.count_nonzero(new_source):
        return 0.0, 0.0  # one output per source colour: a plain mapping
    starts = np.flatnonzero(new_pair)
    starts += 1
    starts = np.concatenate(([0], starts))
    # Pairs that share their source colour with another pair; the rest are their own majority.
    shared = np.zeros(len(starts) + 1, dtype=bool)
    shared[1:-1] = ~new_source[starts[1:] - 1]
    shared[:-1] |= shared[1:]
    sel = np.flatnonzero(shared[:-1])
    begin = starts[sel]
    end = np.append(starts, len(key))[sel + 1]
    pair_n = end - begin
    pair = key[begin] >> np.uint64(1)
    out = (pair & np.uint64(0xFFFFFF)).astype(np.uint32)
    new_group = np.concatenate(([True], (pair[1:] ^ pair[:-1]) >= 1 << 24))
    group = np.cumsum(new_group) - 1
    most = np.maximum.reduceat(pair_n, np.flatnonzero(new_group))
    # Majority: the most pixels, ties to the lowest output word (as the judge's stable sort).
    top = np.flatnonzero(pair_n == most[group])
    first_top = np.concatenate(([True], group[top[1:]] != group[top[:-1]]))
    major = out[top[first_top]][group]
    odd = np.flatnonzero(out != major)
    # A pair's static pixels are its last ones: from the first key with the static bit on.
    first_static = np.searchsorted(key, (pair[odd] << np.uint64(1)) | np.uint64(1))
    n_odd_static = end[odd] - first_static
    odd, n_odd_static = odd[n_odd_static > 0], n_odd_static[n_odd_static > 0]
    if len(odd) == 0:
        return 0.0, 0.0
    # Lab of the few colours involved only.
    d = delta_e(judge_lab(unpack_rgb(out[odd])), judge_lab(unpack_rgb(major[odd])))
    return tuple(float(n_odd_static[d > t].sum()) / n_static for t in (JND_DE, GHOST_DE))


def _steps(key: NDArray[np.uint64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Between neighbours of the sorted ``key``: a new (source, output) pair starts, a new
    source starts. A chunk at a time (the xor of every neighbour would be 8 bytes a pixel)."""
    n = max(0, len(key) - 1)
    new_pair = np.empty(n, dtype=bool)
    new_source = np.empty(n, dtype=bool)
    for start in range(0, n, _BAND):
        stop = min(n, start + _BAND)
        step = np.bitwise_xor(key[start + 1 : stop + 1], key[start:stop])
        np.greater(step, 1, out=new_pair[start:stop])
        np.greater_equal(step, 1 << 25, out=new_source[start:stop])
    return new_pair, new_source


def _count_u8(values: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Counts (256,) of uint8 ``values``, a chunk at a time (bincount copies to int64)."""
    counts = np.zeros(256, np.int64)
    for start in range(0, len(values), _BAND):
        counts += np.bincount(values[start : start + _BAND], minlength=256)
    return counts


def _n_drawn(words: NDArray[np.uint32], indices: NDArray[np.uint8]) -> int:
    """Distinct words of a palette image's pixels (``words[indices]``), from the entries drawn."""
    return len(np.unique(words[np.flatnonzero(_count_u8(indices.reshape(-1)))]))


def _take_rows(table: NDArray, index: NDArray[np.integer]) -> NDArray:
    """``table[index]`` for a (p, 3) ``table`` and an index array of any shape and integer dtype:
    np.take a chunk at a time, several times faster than indexing, copying a chunk's index (not
    the frame's) to intp."""
    flat = index.reshape(-1)
    out = np.empty((len(flat),) + table.shape[1:], table.dtype)
    for start in range(0, len(flat), _BAND):
        part = slice(start, start + _BAND)
        # mode="clip": with "raise", take buffers ``out`` (every index is in range anyway)
        np.take(table, flat[part], axis=0, out=out[part], mode="clip")
    return out.reshape(index.shape + table.shape[1:])


def _n_distinct(words: NDArray[np.uint32]) -> int:
    if len(words) == 0:
        return 0
    if len(words) >= BANDED_PIXELS:  # the distinct words of each chunk, then of those
        seen = np.unique(
            np.concatenate([np.unique(words[s : s + _BAND]) for s in range(0, len(words), _BAND)])
        )
        return len(seen)
    ordered = np.sort(words)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def _mean_of(name: str, doc: str) -> property:
    """A read-only property: the mean of the list attribute ``name``, 0.0 while it is empty."""

    def mean(self) -> float:
        values = getattr(self, name)
        return float(np.mean(values)) if values else 0.0

    return property(mean, doc=doc)


@dataclass
class QualityMeter:
    """Accumulates dE and flicker (``update*``) and incoherence and colours on screen
    (``observe``) over a clip, frame by frame (two frames held at most)."""

    frame_de: list[float] = field(default_factory=list)
    frame_incoherence: list[float] = field(default_factory=list)
    frame_colours: list[int] = field(default_factory=list)
    frame_flicker: list[float | None] = field(default_factory=list)  # None: no still pixels
    frame_ghosts: list[float] = field(default_factory=list)
    frame_p99: list[float] = field(default_factory=list)
    frame_banding: list[float] = field(default_factory=list)  # frames with smooth areas only
    _flicker_sum: float = 0.0
    _flicker_n: int = 0
    _prev: tuple[NDArray, NDArray, NDArray] | _IndexedFrame | None = None
    _prev_source: NDArray[np.uint32] | None = None

    def update(
        self,
        source_rgb: NDArray[np.uint8],
        output_rgb: NDArray[np.uint8],
        mask: NDArray[np.bool_] | None = None,
    ) -> float:
        """Add one frame (both (height, width, 3) uint8); ``mask`` marks the pixels that count.

        Also observes the frame's incoherence and colours (``observe``). Returns its mean dE.
        """
        source = pack_rgb(source_rgb).reshape(source_rgb.shape[:2])
        output = pack_rgb(output_rgb).reshape(output_rgb.shape[:2])
        self.observe(source, output, mask)
        return self.update_lab(
            _lab_of_packed(source.reshape(-1), source_rgb.shape),
            _lab_of_packed(output.reshape(-1), output_rgb.shape),
            mask,
        )

    def observe(
        self,
        source_packed: NDArray[np.uint32],
        output_packed: NDArray[np.uint32],
        mask: NDArray[np.bool_] | None = None,
        *,
        n_colours: int | None = None,
    ) -> float | None:
        """Add one frame's incoherence and colours on screen.

        source_packed, output_packed : ndarray of shape (height, width), uint32 ``0xRRGGBB``
            words (``colour.pack_rgb``) of the source and the output as shown
        mask : ndarray of shape (height, width), bool, the pixels that count (None: all); a
            pixel is static when it counts in this frame and the previous one and its source
            word is unchanged
        n_colours : the distinct output words of the pixels that count, when the caller knows
            them (else counted here)

        Keeps the previous source frame only. Returns the frame's incoherence (None when no
        pixel is static, as on a first frame).
        """
        src = source_packed.reshape(-1)
        out = output_packed.reshape(-1)
        counted = None if mask is None or mask.all() else mask.reshape(-1)
        if counted is not None:
            src, out = src[counted], out[counted]
        prev = self._prev_source
        static = None
        if prev is not None and prev.shape == source_packed.shape:
            prev = prev.reshape(-1)
            static = (prev if counted is None else prev[counted]) == src
        share, n_colours = frame_coherence(src, out, static, n_colours)
        if counted is None:
            self._prev_source = np.array(source_packed, dtype=np.uint32)
        else:
            self._prev_source = np.where(mask, source_packed, _NOT_COUNTED).astype(np.uint32)
        return self._note_coherence(share, n_colours)

    def _note_coherence(self, shares: tuple[float, float] | None, n_colours: int) -> float | None:
        self.frame_colours.append(n_colours)
        if shares is None:
            return None
        self.frame_incoherence.append(shares[0])
        self.frame_ghosts.append(shares[1])
        return shares[0]

    def observe_indexed(
        self,
        source_rgba: NDArray[np.uint8],
        mask: NDArray[np.bool_],
        indices: NDArray[np.uint8],
        palette: NDArray[np.uint8],
    ) -> float | None:
        """``observe`` with the source as (height, width, 4) uint8 and the output as a palette
        image (``indices`` (height, width) uint8, ``palette`` (p, 3) uint8). A large frame whose
        every pixel counts is gone through a chunk at a time, with no whole-frame word arrays
        but the sort keys and the source words kept for the next frame."""
        h, w = mask.shape
        words = pack_rgb(palette)
        if h * w < BANDED_PIXELS or not mask.all():
            n_colours = _n_drawn(words, indices if mask.all() else indices[mask])
            output = gather(words, indices)
            source = pack_rgb(source_rgba).reshape(h, w)
            return self.observe(source, output, mask, n_colours=n_colours)
        n = h * w
        prev = self._prev_source
        if prev is not None and prev.shape != (h, w):
            prev = None
        prev_flat = None if prev is None else prev.reshape(-1)
        flat_rgba, flat_indices = source_rgba.reshape(n, 4), indices.reshape(-1)
        source = np.empty(n, np.uint32)
        key = np.empty(n, np.uint64)
        n_static = 0
        for start in range(0, n, _BAND):
            part = slice(start, start + _BAND)
            src = pack_rgb(flat_rgba[part], out=source[part])
            k = np.left_shift(src, 25, dtype=np.uint64)
            k |= np.left_shift(words[flat_indices[part]], 1, dtype=np.uint64)
            if prev_flat is not None:
                static = prev_flat[part] == src
                n_static += int(np.count_nonzero(static))
                k |= static
            key[part] = k
        del prev, prev_flat
        self._prev_source = None  # its words are read: let them go before the sort
        # Distinct output words: those of the entries drawn (as _n_distinct of every pixel's).
        n_colours = _n_drawn(words, flat_indices)
        share = _incoherence(key, n_static) if n_static else None
        del key
        self._prev_source = source.reshape(h, w)
        return self._note_coherence(share, n_colours)

    def update_indexed(
        self, source: DistinctColours, indices: NDArray[np.uint8], palette: NDArray[np.uint8]
    ) -> float:
        """As ``update``, with the frames as a quantizer holds them (no per-pixel colour search).

        source : the source frame split into its distinct colours (a ``FrameResult.source``);
            its opaque pixels count
        indices, palette : the output as a palette image, (height, width) uint8 and (p, 3) uint8
        """
        mask, source_inverse = source.opaque, source.inverse
        src_lut = judge_lab(source.colours)
        if mask.size >= BANDED_PIXELS:
            full = bool(mask.all())
            row_start = None if full else np.concatenate([[0], np.cumsum(mask.sum(1))])
            frame = _IndexedFrame(
                src_lut, source_inverse, mask, full, row_start, judge_lab(palette), indices
            )
            return self._update_banded(frame)
        if mask.all():
            src = _take_rows(src_lut, source_inverse).reshape(mask.shape + (3,))
        else:
            src = np.zeros(mask.shape + (3,), dtype=np.float32)
            src[mask] = _take_rows(src_lut, source_inverse)
        out = _take_rows(judge_lab(palette), indices)
        return self.update_lab(src, out, mask)

    def _update_banded(self, frame: _IndexedFrame) -> float:
        """``update_lab`` of a large frame, band by band of rows (the previous frame is held
        as palette images too)."""
        prev = self._prev if isinstance(self._prev, _IndexedFrame) else None
        if prev is not None and prev.shape != frame.shape:
            prev = None
        h, w = frame.shape
        rows = max(1, _BAND // max(w, 1))
        err_sum, n_counted = 0.0, 0
        errs = []
        before = (self._flicker_sum, self._flicker_n)
        for top in range(0, h, rows):
            bottom = min(h, top + rows)
            src, out = frame.band(top, bottom)
            mask = None if frame.full else frame.mask[top:bottom].reshape(-1)
            err = delta_e(src, out)
            err_sum += float(
                err.sum(dtype=np.float64) if mask is None else err[mask].sum(dtype=np.float64)
            )
            n_counted += len(err) if mask is None else int(np.count_nonzero(mask))
            errs.append(err if mask is None else err[mask])
            if prev is not None:
                psrc, pout = prev.band(top, bottom)
                still = squared_de(src, psrc) < STILL_DE * STILL_DE
                if mask is not None:
                    still &= mask
                if not prev.full:
                    still &= prev.mask[top:bottom].reshape(-1)
                n_still = int(np.count_nonzero(still))
                if n_still:
                    moved = delta_e(out, pout)
                    self._flicker_sum += float(moved[still].sum(dtype=np.float64))
                    self._flicker_n += n_still
        de = err_sum / n_counted if n_counted else 0.0
        self.frame_de.append(de)
        self._note_tail(np.concatenate(errs) if errs else np.zeros(0, np.float32))
        self._note_flicker(before)
        self._prev = frame
        return de

    def _note_tail(self, err: NDArray) -> None:
        """The frame's 99th percentile of per-pixel dE (as the judge picks it)."""
        if err.size:
            at = int(0.99 * (err.size - 1))
            self.frame_p99.append(float(np.partition(err, at)[at]))

    def _note_flicker(self, before: tuple[float, int]) -> None:
        n = self._flicker_n - before[1]
        self.frame_flicker.append((self._flicker_sum - before[0]) / n if n else None)

    def update_lab(
        self, source_lab: NDArray, output_lab: NDArray, mask: NDArray[np.bool_] | None = None
    ) -> float:
        """As ``update``, with both frames already in CIELAB (height, width, 3)."""
        full = mask is None or bool(mask.all())
        before = (self._flicker_sum, self._flicker_n)
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
        self._note_tail(err.reshape(-1))
        band = banding(source_lab, output_lab, None if full else mask)
        if band is not None:
            self.frame_banding.append(band)
        if isinstance(self._prev, tuple) and self._prev[0].shape == source_lab.shape:
            psrc, pout, pmask = self._prev
            still = squared_de(source_lab, psrc) < STILL_DE * STILL_DE
            if not full or not pmask.all():
                still &= mask & pmask
            n_still = int(np.count_nonzero(still))
            if n_still:
                moved = delta_e(output_lab, pout)
                self._flicker_sum += float(moved[still].sum(dtype=np.float64))
                self._flicker_n += n_still
        self._note_flicker(before)
        self._prev = (source_lab, output_lab, mask)
        return de

    # Means over frames (0.0 before any frame is in).
    mean_de = _mean_of("frame_de", "Mean over frames of each frame's mean dE.")

    @property
    def flicker(self) -> float:
        """Mean output change (dE) over still source pixels of consecutive frames."""
        return self._flicker_sum / self._flicker_n if self._flicker_n else 0.0

    incoherence = _mean_of("frame_incoherence", "Mean incoherence of frames with static pixels.")
    ghosts = _mean_of("frame_ghosts", "Mean share of static pixels GHOST_DE off their majority.")
    de_p99 = _mean_of("frame_p99", "Mean of each frame's 99th percentile of per-pixel dE.")
    banding = _mean_of("frame_banding", "Mean share of smooth areas banded, of frames with any.")

    @property
    def colours_max(self) -> int:
        """Most distinct output colours on screen in any observed frame (0 if none)."""
        return max(self.frame_colours, default=0)


def _gaussian_kernel(sigma: float) -> NDArray[np.float32]:
    """OpenCV's ``getGaussianKernel`` for float images at ksize (0, 0): 2 * round(4 sigma) + 1
    taps, normalised."""
    n = int(round(sigma * 8 + 1)) | 1
    x = np.arange(n) - (n - 1) / 2
    k = np.exp(-(x * x) / (2 * sigma * sigma))
    return (k / k.sum()).astype(np.float32)


def _filter(img: NDArray[np.float32], taps: NDArray[np.float32], axis: int) -> NDArray:
    """``img`` (h, w, c) convolved along ``axis`` with symmetric ``taps``, borders reflected
    without repeating the edge (OpenCV's default, numpy's ``reflect``)."""
    r = len(taps) // 2
    n = img.shape[axis]
    if n <= r:  # too small to reflect: no blur along this axis
        return img.copy()
    pad = [(0, 0)] * img.ndim
    pad[axis] = (r, r)
    p = np.pad(img, pad, mode="reflect")
    out = np.zeros_like(img)
    for i, t in enumerate(taps):
        out += t * np.take(p, np.arange(i, i + n), axis=axis)
    return out


def blurred_gradient(lab: NDArray) -> NDArray[np.float32]:
    """Gradient magnitude (dE a pixel) of a (h, w, 3) CIELAB frame blurred as the eye at a
    normal distance blurs it (Gaussian, sigma 1.5): the judge's, in numpy."""
    g = _gaussian_kernel(1.5)
    b = _filter(_filter(np.asarray(lab, np.float32), g, 0), g, 1)
    d = np.array([-1.0, 0.0, 1.0], np.float32)  # Sobel 3x3: a derivative across, a 1-2-1 along
    s = np.array([1.0, 2.0, 1.0], np.float32)
    gx = _filter_odd(_filter(b, s, 0), d, 1) / 8
    gy = _filter_odd(_filter(b, s, 1), d, 0) / 8
    return np.sqrt((gx * gx + gy * gy).sum(2))


def _filter_odd(img: NDArray[np.float32], taps: NDArray[np.float32], axis: int) -> NDArray:
    """``_filter`` with the 3-tap derivative ``taps`` (correlation, as OpenCV applies it)."""
    n = img.shape[axis]
    if n < 2:
        return np.zeros_like(img)
    pad = [(0, 0)] * img.ndim
    pad[axis] = (1, 1)
    p = np.pad(img, pad, mode="reflect")
    return taps[0] * np.take(p, np.arange(0, n), axis=axis) + taps[2] * np.take(
        p, np.arange(2, n + 2), axis=axis
    )


def banding(
    source_lab: NDArray, output_lab: NDArray, mask: NDArray[np.bool_] | None = None
) -> float | None:
    """Share of the source's smooth pixels (blurred gradient < ``SMOOTH_DE``) where the blurred
    output has an edge (> ``EDGE_DE``); None when the frame has no smooth pixel."""
    smooth = blurred_gradient(source_lab) < SMOOTH_DE
    if mask is not None:
        smooth &= mask
    if not smooth.any():
        return None
    return float(np.count_nonzero(blurred_gradient(output_lab)[smooth] > EDGE_DE)) / float(
        np.count_nonzero(smooth)
    )
