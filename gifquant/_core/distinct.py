"""A frame's distinct colours: what the quantizer needs of a frame that depends on no other frame.

Each frame is reduced to its distinct colours with pixel counts (compiled: a bitmap of the 2^24
colours gives them in sorted order and each pixel's index by counting set bits; the numpy
``*_reference`` functions are what the tests hold the kernels to), their coordinates in the
working colour space and CIELAB, a coarser colour histogram for the fit and a scene histogram for
cuts.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .._kernels import (
    count_bytes,
    distinct_keys,
    distinct_rgba,
    distinct_state,
    gather_into,
    lut_where,
)
from .colour import (
    _ROWS,
    enhance_colours,
    hsv_saturation,
    pack_rgb,
    rgb_to_lab,
    to_space,
    unpack_rgb,
)

if TYPE_CHECKING:
    from .deband import SmoothPixels
    from .frames import Frame, IndexedPixels
    from .options import QuantizeOptions

# Up to this many distinct colours, the fit runs on the exact colours rather than on a histogram.
_EXACT_FIT_LIMIT = 4096
# Bins a palette entry the histogram has at least (finer bins, up to 8 bits, until it does): a
# smooth gradient of many colours falls into fewer 5-bit bins than k=256 has entries.
_BINS_PER_ENTRY = 4
# Pixels or colours handled at a time where a whole frame's worth of temporaries would be large.
_CHUNK = 1 << 16
assert _CHUNK % _ROWS == 0  # chunked colour conversion runs the very same matrix blocks


@dataclass(frozen=True)
class DistinctColours:
    """The opaque pixels of a frame as distinct colours.

    colours : ndarray of shape (n_distinct, 3), uint8
    counts : ndarray of shape (n_distinct,), pixel count of each colour
    inverse : ndarray of shape (n_opaque,), uint16 or int32: index into ``colours`` of each
        opaque pixel
    opaque : ndarray of shape (height, width), bool (read-only)
    """

    colours: NDArray[np.uint8]
    counts: NDArray[np.int64]
    inverse: NDArray[np.unsignedinteger] | NDArray[np.int32]
    opaque: NDArray[np.bool_]

    @property
    def all_opaque(self) -> bool:
        """Every pixel is opaque (one index a pixel): no pass over ``opaque`` needed."""
        return len(self.inverse) == self.opaque.size


class ColourIndexer:
    """Finds the distinct colours of frames, one frame after another (compiled: a bitmap of the
    2^24 colours, about 3 MB, reused from frame to frame and left clear after each). Not
    thread-safe: one indexer per thread.

    Results equal ``distinct_reference`` and ``index_reference`` (numpy's ``np.unique``).
    """

    def __init__(self) -> None:
        self._state: tuple | None = None
        # The last palette table seen, its kept indices and the colours they draw (_drawn).
        self._last_table: tuple | None = None
        # By options: the last shared colours and their conversions (converted).
        self._last_converted: dict[tuple, tuple] = {}

    def _kernel_state(self) -> tuple:
        if self._state is None:
            self._state = distinct_state()
        return self._state

    def distinct(
        self, rgba: NDArray[np.uint8], alpha_threshold: int = 128, *, opaque: bool = False
    ) -> DistinctColours:
        """Split a (height, width, 4) uint8 frame into its distinct opaque colours (``opaque``:
        every alpha is known to be 255, so it is not looked at)."""
        h, w = rgba.shape[:2]
        px = np.ascontiguousarray(rgba).reshape(h * w, 4)
        if opaque or alpha_threshold <= 0:
            colours, counts, inverse = distinct_rgba(px, 0, None, self._kernel_state())
            return DistinctColours(colours, counts, inverse, _ALL_OPAQUE(h, w))
        mask = np.empty((h, w), np.uint8)
        state = self._kernel_state()
        colours, counts, inverse = distinct_rgba(px, alpha_threshold, mask.reshape(-1), state)
        if len(inverse) == h * w:  # a read-only view of one True, not a byte a pixel
            return DistinctColours(colours, counts, inverse, _ALL_OPAQUE(h, w))
        return DistinctColours(colours, counts, inverse, mask.view(np.bool_))

    def indexed(self, px: IndexedPixels, alpha_threshold: int = 128) -> DistinctColours:
        """``indexed_colours`` of a frame held as palette indices. The colours a palette's used
        indices draw are worked out once while the frame after shows the same indices of the
        same table (nearly every frame of a GIF): only the counts are the frame's own."""
        counts = count_bytes(px.indices)
        keep = _kept(px.table, counts, alpha_threshold)
        last = self._last_table
        if last is not None and last[0] is px.table and np.array_equal(last[1], keep):
            drawn = last[2]
        else:
            drawn = _drawn(px.table, keep)
            self._last_table = (px.table, keep, drawn)
        colours, lut, used, slot = drawn
        colour_counts, n_kept = _colour_counts(counts, used, slot, len(colours))
        if n_kept == px.indices.size:
            inverse = gather(lut, px.indices.reshape(-1))
            return DistinctColours(colours, colour_counts, inverse, _ALL_OPAQUE(*px.indices.shape))
        mask = np.empty(px.indices.shape, np.uint8)
        inverse = lut_where(px.indices, lut, keep.view(np.uint8), mask, n_kept)
        return DistinctColours(colours, colour_counts, inverse, mask.view(np.bool_))

    def converted(self, colours: NDArray[np.uint8], options: QuantizeOptions) -> tuple:
        """``_colours_converted(colours, options)``, from the frame before when it had the very
        same colours (``indexed``'s shared array) and options that convert alike."""
        key = (options.enhance, options.space, options.min_saturation)
        last = self._last_converted.get(key)
        if last is not None and last[0] is colours:
            return last[1]
        out = _colours_converted(colours, options)
        drawn = self._last_table
        if drawn is not None and drawn[2][0] is colours:  # only shared colours come back
            for a in out:
                if a is not None:
                    a.flags.writeable = False
            if len(self._last_converted) > 8:
                self._last_converted.clear()
            self._last_converted[key] = (colours, out)
        return out

    def index(
        self, key: NDArray[np.uint32]
    ) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.unsignedinteger]]:
        """Distinct colours of packed pixels ``key`` (n,): (colours (m, 3) uint8 in sorted
        order, counts (m,) int64, inverse (n,) uint16 (m <= 65536) or int32 with
        ``colours[inverse]`` the pixels)."""
        key = np.ascontiguousarray(key, dtype=np.uint32).reshape(-1)
        return distinct_keys(key, self._kernel_state())


@functools.lru_cache(maxsize=8)
def _ALL_OPAQUE(h: int, w: int) -> NDArray[np.bool_]:  # noqa: N802 - reads as a constant
    # (read-only, so one view serves every frame of a size: broadcast_to takes 10 us a frame)
    return np.broadcast_to(np.True_, (h, w))


def index_reference(
    key: NDArray[np.uint32],
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.unsignedinteger]]:
    """numpy reference of ``ColourIndexer.index`` (the tests hold the kernel to it)."""
    words, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    dtype = np.uint16 if len(words) <= 1 << 16 else np.int32
    return unpack_rgb(words), counts.astype(np.int64), inverse.reshape(-1).astype(dtype)


def distinct_reference(
    rgba: NDArray[np.uint8], alpha_threshold: int = 128, *, opaque: bool = False
) -> DistinctColours:
    """numpy reference of ``ColourIndexer.distinct`` (the tests hold the kernel to it)."""
    key = pack_rgb(rgba)
    mask = _ALL_OPAQUE(*rgba.shape[:2])
    if not (opaque or alpha_threshold <= 0 or rgba[..., 3].min() >= alpha_threshold):
        mask = rgba[..., 3] >= alpha_threshold
        key = key[mask.reshape(-1)]
    return DistinctColours(*index_reference(key), mask)


def gather(table: NDArray, index: NDArray[np.integer]) -> NDArray:
    """``table[index]`` for a 1-D ``table`` and an index array of any shape and integer dtype
    (each index in range): compiled for the tables and indices of the pipeline (uint8, uint16
    or uint32 tables; uint8, uint16, int32 or int64 indices), else ``gather_reference``."""
    if table.dtype.type not in _GATHER_TABLES or index.dtype.type not in _GATHER_INDICES:
        return gather_reference(table, index)
    index2 = index.reshape(-1, index.shape[-1]) if index.ndim >= 2 else index.reshape(1, -1)
    out = np.empty(index2.shape, table.dtype)
    gather_into(np.ascontiguousarray(table), index2, out)
    return out.reshape(index.shape)


_GATHER_TABLES = (np.uint8, np.uint16, np.uint32)
_GATHER_INDICES = (np.uint8, np.uint16, np.int32, np.int64)


def gather_reference(table: NDArray, index: NDArray[np.integer]) -> NDArray:
    """numpy reference of ``gather``: np.take a chunk at a time, three times faster than
    indexing with a non-intp array, and its intp copy of the index is a chunk's, not a frame's
    (8 bytes a pixel)."""
    flat = np.ascontiguousarray(index).reshape(-1)
    out = np.empty(len(flat), table.dtype)
    for start in range(0, len(flat), _CHUNK):
        # mode="clip": with "raise", take buffers ``out`` (every index is in range anyway)
        np.take(table, flat[start : start + _CHUNK], out=out[start : start + _CHUNK], mode="clip")
    return out.reshape(index.shape)


_INDEXERS = threading.local()


def shared_indexer() -> ColourIndexer:
    """The calling thread's ``ColourIndexer`` (created on first use, kept for the thread's life)."""
    ix = getattr(_INDEXERS, "indexer", None)
    if ix is None:
        ix = _INDEXERS.indexer = ColourIndexer()
    return ix


def distinct_colours(
    rgba: NDArray[np.uint8], alpha_threshold: int = 128, *, opaque: bool = False
) -> DistinctColours:
    """Split a (height, width, 4) frame into its distinct opaque colours (sorted as (r, g, b));
    ``opaque``: every alpha is known to be 255."""
    return shared_indexer().distinct(rgba, alpha_threshold, opaque=opaque)


def indexed_colours(px: IndexedPixels, alpha_threshold: int = 128) -> DistinctColours:
    """``distinct_colours`` of a frame held as palette indices: from the counts of its 256
    indices, with no pass over its colours (the same result as from its RGBA pixels)."""
    return shared_indexer().indexed(px, alpha_threshold)


def indexed_reference(px: IndexedPixels, alpha_threshold: int = 128) -> DistinctColours:
    """numpy reference of ``indexed_colours`` (the tests hold the kernels to it)."""
    flat = px.indices.reshape(-1)
    counts = np.bincount(flat, minlength=256)
    keep = _kept(px.table, counts, alpha_threshold)
    colours, lut, used, slot = _drawn(px.table, keep)
    colour_counts, n_kept = _colour_counts(counts, used, slot, len(colours))
    if n_kept == len(flat):
        mask = _ALL_OPAQUE(*px.indices.shape)
        return DistinctColours(colours, colour_counts, gather_reference(lut, flat), mask)
    mask = keep[px.indices]
    inverse = gather_reference(lut, flat[mask.reshape(-1)])
    return DistinctColours(colours, colour_counts, inverse, mask)


def _kept(table: NDArray[np.uint8], counts: NDArray[np.int64], alpha_threshold: int):
    """Which of a palette ``table``'s (256, 4) indices are kept (256,) bool: used (``counts``
    of each index above 0) and opaque."""
    keep = counts > 0
    if alpha_threshold > 0:
        keep &= table[:, 3] >= alpha_threshold
    return keep


def _drawn(
    table: NDArray[np.uint8], keep: NDArray[np.bool_]
) -> tuple[NDArray[np.uint8], NDArray[np.uint16], NDArray[np.intp], NDArray[np.intp]]:
    """The distinct colours (m, 3) the ``keep`` indices of ``table`` draw (read-only), each
    index's colour (a (256,) uint16 look-up table), the kept indices and each one's colour."""
    used = np.flatnonzero(keep)
    # Several indices may hold one colour: the colours are the distinct words among those used.
    words, slot = np.unique(pack_rgb(table[used]), return_inverse=True)
    lut = np.zeros(256, np.uint16)
    lut[used] = slot
    colours = unpack_rgb(words)
    for a in (colours, lut, used, slot):  # shared by the frames that draw them
        a.flags.writeable = False
    return colours, lut, used, slot


def _colour_counts(
    counts: NDArray[np.int64], used: NDArray[np.intp], slot: NDArray[np.intp], m: int
) -> tuple[NDArray[np.int64], int]:
    """Each colour's pixel count (m,) from each index's ``counts``, and the pixels kept."""
    colour_counts = np.bincount(slot, weights=counts[used], minlength=m).astype(np.int64)
    return colour_counts, int(counts[used].sum())


def source_colours(frame: Frame, alpha_threshold: int = 128) -> DistinctColours:
    """``distinct_colours`` of a frame, from its palette indices when the reader kept them."""
    if frame.indexed is not None:
        return indexed_colours(frame.indexed, alpha_threshold)
    return distinct_colours(frame.rgba, alpha_threshold, opaque=frame.opaque)


@dataclass(frozen=True)
class FrameColours:
    """What the quantizer needs of a frame that does not depend on earlier frames.

    source : the distinct colours; exact : (m, 3) float32, the colours clustered (after
    ``enhance``) in the working space; lab : (m, 3) float32, them in CIELAB (the same array as
    ``exact`` in the lab space); weights : (m,) float64, their pixel counts; scene : the source
    colours' ``scene_histogram``; fit_x, fit_w : the points (working space, float64) and weights
    the k-means runs on (the salient colours' only, with ``min_saturation``);
    enhanced : (m, 3) uint8, the colours clustered as RGB (``source.colours`` itself unless
    ``enhance`` changes them); salient : (n,) indices of the colours the fit runs on (those of
    at least ``min_saturation``), None for all of them; smooth : the pixels in smooth areas,
    where ``deband`` may dither (``deband.SmoothPixels``; None: no de-banding)
    """

    source: DistinctColours
    exact: NDArray[np.float32]
    lab: NDArray[np.float32]
    weights: NDArray[np.float64]
    scene: NDArray[np.float64]
    fit_x: NDArray[np.float64]
    fit_w: NDArray[np.float64]
    enhanced: NDArray[np.uint8] | None = None
    salient: NDArray[np.intp] | None = None
    smooth: SmoothPixels | None = None


def frame_colours(
    rgba: NDArray[np.uint8] | None,
    options: QuantizeOptions,
    source: DistinctColours | None = None,
    *,
    opaque: bool = False,
) -> FrameColours:
    """The frame-local part of quantizing a (height, width, 4) frame under ``options``
    (``source``: its distinct colours, when already known, and ``rgba`` may then be None;
    ``opaque``: every alpha is known to be 255)."""
    if source is None:
        source = distinct_colours(rgba, options.alpha_threshold, opaque=opaque)
    src = source
    colours, exact, lab, salient = shared_indexer().converted(src.colours, options)
    weights = src.counts.astype(np.float64)
    fit_x, fit_w = fit_points(colours, exact, weights, options, salient)
    scene = scene_histogram(src.colours, weights) if len(src.colours) else np.zeros(4096)
    return FrameColours(src, exact, lab, weights, scene, fit_x, fit_w, colours, salient)


def _colours_converted(
    colours: NDArray[np.uint8], options: QuantizeOptions
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32], NDArray[np.intp] | None]:
    """What ``frame_colours`` makes of the distinct ``colours`` alone under ``options``: the
    colours clustered (after ``enhance``), them in the working space and in CIELAB, and the
    salient ones (see ``FrameColours``)."""
    # The colours clustered: a colour-to-colour map of the distinct colours, not of the pixels.
    if options.enhance != 1:
        colours = _converted(colours, lambda c: enhance_colours(c, options.enhance), np.uint8)
    # float32, as the conversion gives them (the maths widens them to float64 as it reads them,
    # a chunk at a time); in CIELAB they are the Lab coordinates too.
    exact = _converted(colours, lambda c: to_space(c, options.space))
    lab = exact if options.space == "lab" else _converted(colours, rgb_to_lab)
    salient = None
    if options.min_saturation > 0 and len(colours):
        keep = hsv_saturation(colours) >= options.min_saturation
        # A frame with no colour that saturated is fitted on all its colours.
        if keep.any() and not keep.all():
            salient = np.flatnonzero(keep)
    return colours, exact, lab, salient


def fit_points(
    colours: NDArray[np.uint8],
    exact: NDArray[np.float32],
    weights: NDArray[np.float64],
    options: QuantizeOptions,
    subset: NDArray[np.intp] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The points (working space, float64) and weights a k-means runs on: the colours (m, 3)
    uint8 themselves (``exact``, their working-space coordinates) when there are few, else
    their ``colour_histogram`` at ``options.fit_bits`` or finer (``_BINS_PER_ENTRY``); only the
    ``subset`` of them if given."""
    if subset is not None:
        colours, exact, weights = colours[subset], exact[subset], weights[subset]
    if len(colours) <= _EXACT_FIT_LIMIT:
        return exact.astype(np.float64), weights
    # The float64 weights: the counts' values, and no float copy of them to make.
    bits = options.fit_bits
    means, fit_w = colour_histogram(colours, weights, bits)
    while len(means) < _BINS_PER_ENTRY * options.k and bits < 8:
        bits += 1
        means, fit_w = colour_histogram(colours, weights, bits)
    return to_space(means, options.space).astype(np.float64), fit_w


def _converted(colours: NDArray[np.uint8], convert, dtype: type = np.float32) -> NDArray:
    """``convert(colours)`` (m, 3) ``dtype``, a chunk of colours at a time: the conversion's
    float64 temporaries of every colour at once would cost ~100 bytes a colour."""
    if len(colours) <= _CHUNK:
        return convert(colours)
    out = np.empty(colours.shape, dtype)
    for start in range(0, len(colours), _CHUNK):  # whole blocks of colour._ROWS: same results
        out[start : start + _CHUNK] = convert(colours[start : start + _CHUNK])
    return out


# Above this many histogram bins (bits per channel > 6) a sort beats dense per-bin arrays.
_DENSE_HISTOGRAM_BINS = 1 << 18


def colour_histogram(
    colours: NDArray[np.uint8], counts: NDArray, bits: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin colours at ``bits`` per channel: (mean colour of each non-empty bin, its pixel count).

    Bins come in increasing order of ``r_bin << 2 bits | g_bin << bits | b_bin``.
    """
    shift = 8 - bits
    # From uint8 to one intp bin number, which each bincount reads without a copy.
    c = colours >> shift
    bins = c[:, 0].astype(np.intp) << (2 * bits)
    bins |= c[:, 1].astype(np.intp) << bits
    bins |= c[:, 2]
    del c
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


def scene_histogram(colours: NDArray[np.uint8], counts: NDArray) -> NDArray[np.float64]:
    """Normalised 4-bit-per-channel colour histogram (4096,) for scene-cut detection."""
    c = colours >> 4
    bins = c[:, 0].astype(np.intp) << 8
    bins |= c[:, 1].astype(np.intp) << 4
    bins |= c[:, 2]
    h = np.bincount(bins, weights=counts, minlength=4096)
    return h / max(1.0, h.sum())
