"""Temporal colour quantization: one k-means per frame, warm-started from the previous frame.

Pure numpy: frames in as arrays, palette images out. No files, no printing.

Each frame is reduced to its distinct colours with their pixel counts. The centres are fitted on a
coarser colour histogram (bins of ``fit_bits`` per channel, each bin at the exact mean of its
pixels), refined with a few Lloyd steps on the exact distinct colours, and every pixel finally gets
the nearest centre of its true colour.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .colour import Space, from_space, to_space
from .frames import QuantizedFrame
from .kmeans import Init, Metric, _lloyd, distances, kmeans

# Up to this many distinct colours, the fit runs on the exact colours rather than on a histogram.
_EXACT_FIT_LIMIT = 4096


@dataclass(frozen=True)
class QuantizeOptions:
    """Settings of the temporal quantizer (see the CLI for what each means to a user)."""

    k: int = 16
    seeded: bool = True
    metric: Metric = "euclidean"
    space: Space = "lab"
    init: Init = "kmeans++"
    n_init: int = 3
    max_iter: int = 50
    tol: float = 1e-3
    seed: int = 0
    fit_bits: int = 5
    refine_iter: int = 2
    alpha_threshold: int = 128

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 256:
            raise ValueError("k must be between 1 and 256")
        if not 1 <= self.fit_bits <= 8:
            raise ValueError("fit_bits must be between 1 and 8")


@dataclass(frozen=True)
class DistinctColours:
    """The opaque pixels of a frame as distinct colours.

    colours : ndarray of shape (n_distinct, 3), uint8
    counts : ndarray of shape (n_distinct,), pixel count of each colour
    inverse : ndarray of shape (n_opaque,), index into ``colours`` of each opaque pixel
    opaque : ndarray of shape (height, width), bool
    """

    colours: NDArray[np.uint8]
    counts: NDArray[np.int64]
    inverse: NDArray[np.int64]
    opaque: NDArray[np.bool_]


@dataclass(frozen=True)
class FrameResult:
    """A quantized frame with what the metrics and the progress report need."""

    frame: QuantizedFrame
    source: DistinctColours
    labels: NDArray[np.int64]  # palette index of each distinct colour
    inertia: float
    n_iter: int
    reseeded: bool


def pack_rgb(rgb: NDArray[np.uint8]) -> NDArray[np.uint32]:
    """Each pixel of an (..., 3) or (..., 4) uint8 image as one integer ``r << 16 | g << 8 | b``.

    Returns a flat (n_pixels,) uint32 array; sorting it sorts the colours as (r, g, b) tuples.
    """
    if rgb.shape[-1] == 4 and rgb.dtype == np.uint8:
        # Four bytes per pixel: reinterpret as one word and move the bytes in one pass.
        words = np.ascontiguousarray(rgb).reshape(-1).view(np.uint32)
        if sys.byteorder == "little":  # word = a << 24 | b << 16 | g << 8 | r
            key = words.byteswap()
            key >>= 8
            return key
        return words >> 8
    flat = rgb.reshape(-1, rgb.shape[-1])
    key = flat[:, 0].astype(np.uint32) << 16
    key |= flat[:, 1].astype(np.uint32) << 8
    key |= flat[:, 2]
    return key


def unpack_rgb(key: NDArray) -> NDArray[np.uint8]:
    """Inverse of ``pack_rgb``: (n,) integers -> (n, 3) uint8 colours."""
    key = np.asarray(key, dtype=np.uint32)
    out = np.empty((len(key), 3), dtype=np.uint8)
    out[:, 0] = key >> 16
    out[:, 1] = key >> 8
    out[:, 2] = key
    return out


class ColourIndexer:
    """Finds the distinct colours of frames, one frame after another, without an argsort.

    Sorting the packed colours (not arg-sorting them) gives the distinct colours and their counts;
    a 2^24-entry slot table, reused from frame to frame, then maps every pixel to its colour's
    index. Only the table entries of a frame's colours are written and read, so the table is never
    cleared. Not thread-safe: one indexer per thread.

    Results equal ``np.unique(packed, return_inverse=True, return_counts=True)``.
    """

    def __init__(self) -> None:
        self._slot: NDArray[np.int32] | None = None

    def distinct(self, rgba: NDArray[np.uint8], alpha_threshold: int = 128) -> DistinctColours:
        """Split a (height, width, 4) uint8 frame into its distinct opaque colours."""
        opaque = rgba[..., 3] >= alpha_threshold
        key = pack_rgb(rgba)
        if not opaque.all():
            key = key[opaque.reshape(-1)]
        colours, counts, inverse = self.index(key)
        return DistinctColours(colours, counts, inverse, opaque)

    def index(
        self, key: NDArray[np.uint32]
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.int64]]:
        """Distinct colours of packed pixels ``key`` (n,): (colours (m, 3) uint8 in sorted
        order, counts (m,) int64, inverse (n,) int64 with ``colours[inverse]`` the pixels)."""
        if len(key) == 0:
            return np.zeros((0, 3), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)
        ordered = np.sort(key)
        first = np.empty(len(ordered), dtype=bool)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        uniq = ordered[starts]
        counts = np.diff(starts, append=len(ordered))
        if self._slot is None:
            # Pages are only touched where colours occur; unwritten entries are never read.
            self._slot = np.empty(1 << 24, dtype=np.int32)
        self._slot[uniq] = np.arange(len(uniq), dtype=np.int32)
        inverse = np.take(self._slot, key).astype(np.int64)
        return unpack_rgb(uniq), counts.astype(np.int64), inverse


_INDEXERS = threading.local()


def shared_indexer() -> ColourIndexer:
    """The calling thread's ``ColourIndexer`` (created on first use, kept for the thread's life)."""
    ix = getattr(_INDEXERS, "indexer", None)
    if ix is None:
        ix = _INDEXERS.indexer = ColourIndexer()
    return ix


def distinct_colours(rgba: NDArray[np.uint8], alpha_threshold: int = 128) -> DistinctColours:
    """Split a (height, width, 4) frame into its distinct opaque colours (sorted as (r, g, b))."""
    return shared_indexer().distinct(rgba, alpha_threshold)


# Above this many histogram bins (bits per channel > 6) a sort beats dense per-bin arrays.
_DENSE_HISTOGRAM_BINS = 1 << 18


def colour_histogram(
    colours: NDArray[np.uint8], counts: NDArray, bits: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin colours at ``bits`` per channel: (mean colour of each non-empty bin, its pixel count).

    Bins come in increasing order of ``r_bin << 2 bits | g_bin << bits | b_bin``.
    """
    shift = 8 - bits
    c = colours.astype(np.int64) >> shift
    bins = (c[:, 0] << (2 * bits)) | (c[:, 1] << bits) | c[:, 2]
    counts = np.asarray(counts, dtype=np.float64)
    n_bins = 1 << (3 * bits)
    if n_bins <= _DENSE_HISTOGRAM_BINS:
        dense = np.bincount(bins, weights=counts, minlength=n_bins)
        ids = np.flatnonzero(dense)
        inv, m, w = bins, n_bins, dense
    else:
        ids, inv = np.unique(bins, return_inverse=True)
        m = len(ids)
        w = np.bincount(inv, weights=counts, minlength=m)
        ids = np.arange(m)
    means = np.empty((len(ids), 3))
    for ch in range(3):
        means[:, ch] = np.bincount(inv, weights=counts * colours[:, ch], minlength=m)[ids]
    w = w[ids]
    means /= w[:, None]
    return means, w


def _extend_centers(
    x: NDArray, w: NDArray, centers: NDArray, k: int, metric: Metric
) -> NDArray[np.float64]:
    """Top ``centers`` up to ``k`` with the worst-served points (greedy, weighted max-min)."""
    out = list(centers)
    closest = distances(x, centers, metric).min(1) if len(centers) else np.full(len(x), np.inf)
    while len(out) < k:
        i = int(np.argmax(w * closest))
        if closest[i] <= 0:
            break
        out.append(x[i])
        closest = np.minimum(closest, distances(x, x[i : i + 1], metric)[:, 0])
    return np.asarray(out, dtype=np.float64)


@dataclass
class TemporalQuantizer:
    """Quantizes frames one after another, carrying the centres from frame to frame.

    With ``options.seeded`` each frame starts from the previous frame's centres, so colours that
    persist keep their palette entry; otherwise every frame is initialised afresh (the flickering
    baseline).
    """

    options: QuantizeOptions
    _centers: NDArray[np.float64] | None = field(default=None, init=False)
    _n_frames: int = field(default=0, init=False)

    def quantize(self, rgba: NDArray[np.uint8], duration: float = 0.1) -> FrameResult:
        """Quantize one (height, width, 4) uint8 frame."""
        opt = self.options
        src = distinct_colours(rgba, opt.alpha_threshold)
        has_alpha = not src.opaque.all()
        k = min(opt.k, 255) if has_alpha else opt.k
        frame_no = self._n_frames
        self._n_frames += 1
        reseeded = False
        if len(src.colours) == 0:
            indices = np.zeros(rgba.shape[:2], dtype=np.uint8)
            frame = QuantizedFrame(indices, np.zeros((1, 3), np.uint8), 0, duration)
            return FrameResult(frame, src, np.zeros(0, np.int64), 0.0, 0, False)

        exact = to_space(src.colours, opt.space).astype(np.float64)
        weights = src.counts.astype(np.float64)
        if len(src.colours) <= k:
            # Fewer colours than entries: the palette is the colours themselves, lossless.
            centers = exact
            labels = np.arange(len(exact))
            inertia, n_iter = 0.0, 0
        else:
            if len(src.colours) <= _EXACT_FIT_LIMIT:
                fit_x, fit_w = exact, weights
            else:
                means, fit_w = colour_histogram(src.colours, src.counts, opt.fit_bits)
                fit_x = to_space(means, opt.space).astype(np.float64)
            rng = np.random.default_rng([opt.seed, frame_no])
            if opt.seeded and self._centers is not None:
                start = self._centers
                if len(start) > k:
                    start = start[:k]
                elif len(start) < k:
                    start = _extend_centers(fit_x, fit_w, start, k, opt.metric)
                res = kmeans(
                    fit_x,
                    k,
                    weights=fit_w,
                    metric=opt.metric,
                    init=start,
                    max_iter=opt.max_iter,
                    tol=opt.tol,
                )
            else:
                reseeded = True
                res = kmeans(
                    fit_x,
                    k,
                    weights=fit_w,
                    metric=opt.metric,
                    init=opt.init,
                    n_init=opt.n_init,
                    max_iter=opt.max_iter,
                    tol=opt.tol,
                    rng=rng,
                )
            # Refine on the exact colours; _lloyd ends on an exact nearest-centre assignment.
            fine = _lloyd(
                exact,
                weights,
                res.centers,
                metric=opt.metric,
                max_iter=opt.refine_iter,
                tol=opt.tol,
            )
            centers, labels = fine.centers, fine.labels
            inertia, n_iter = fine.inertia, res.n_iter + fine.n_iter
        if len(centers) >= k or self._centers is None or not opt.seeded:
            self._centers = centers
        palette = from_space(centers, opt.space)
        transparent = None
        if has_alpha:
            transparent = len(palette)
            palette = np.concatenate([palette, np.zeros((1, 3), np.uint8)])
            indices = np.full(rgba.shape[:2], transparent, dtype=np.uint8)
            indices[src.opaque] = labels[src.inverse]
        else:
            indices = labels[src.inverse].astype(np.uint8).reshape(rgba.shape[:2])
        frame = QuantizedFrame(indices, palette, transparent, duration)
        return FrameResult(frame, src, labels, inertia, n_iter, reseeded)
