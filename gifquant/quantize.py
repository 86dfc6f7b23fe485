"""Temporal colour quantization: one k-means per frame, warm-started from the previous frame.

Pure numpy: frames in as arrays, palette images out. No files, no printing.

Each frame is reduced to its distinct colours with their pixel counts. The centres are fitted on a
coarser colour histogram (bins of ``fit_bits`` per channel, each bin at the exact mean of its
pixels), refined with a few Lloyd steps on the exact distinct colours, and every pixel finally gets
the nearest centre of its true colour.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .colour import Space, from_space, pack_rgb, rgb_to_lab, to_space, unpack_rgb
from .frames import QuantizedFrame
from .kmeans import Init, Metric, _update, assign, distances, kmeans, nearest
from .remap import (
    DITHERS,
    clearly_better,
    dither_offsets,
    floyd_steinberg,
    match_slots,
    moved_less,
    stable_palette,
)

# Above this many remembered screen colours, those no longer on screen are forgotten.
_SHOWN_LIMIT = 4096
# Up to this many distinct colours, the fit runs on the exact colours rather than on a histogram.
_EXACT_FIT_LIMIT = 4096


@dataclass(frozen=True)
class QuantizeOptions:
    """Settings of the temporal quantizer (see the CLI for what each means to a user).

    palette_hysteresis, pixel_hysteresis : thresholds in dE (0 switches each off)
    scene_threshold : total-variation distance (0..1) between consecutive frames' colour
        histograms above which a frame is a scene cut and is initialised afresh; None: never
    delta : the output keeps what is on screen where a pixel does not change (GIF delta frames)
    screen_keep : with ``delta``, a still pixel keeps its on-screen colour even after its slot's
        colour changed (fewer bytes, but more than K colours can show); else it keeps its slot
    """

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
    refine_iter: int = 1
    alpha_threshold: int = 128
    palette_hysteresis: float = 3.0
    pixel_hysteresis: float = 2.0
    scene_threshold: float | None = 0.5
    delta: bool = True
    screen_keep: bool = True
    dither: str = "none"
    dither_strength: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 256:
            raise ValueError("k must be between 1 and 256")
        if not 1 <= self.fit_bits <= 8:
            raise ValueError("fit_bits must be between 1 and 8")
        if self.dither not in DITHERS:
            raise ValueError(f"unknown dither {self.dither!r}")
        if self.palette_hysteresis < 0 or self.pixel_hysteresis < 0:
            raise ValueError("hysteresis thresholds must be >= 0")


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

    @property
    def all_opaque(self) -> bool:
        """Every pixel is opaque (one index a pixel): no pass over ``opaque`` needed."""
        return len(self.inverse) == self.opaque.size


@dataclass(frozen=True)
class FrameResult:
    """A quantized frame with what the metrics and the progress report need."""

    frame: QuantizedFrame
    source: DistinctColours
    inertia: float
    n_iter: int
    reseeded: bool
    cut: bool = False
    source_lab: NDArray[np.float32] | None = None  # (n_distinct, 3) Lab of source.colours


@dataclass(frozen=True)
class FramePlan:
    """A frame's palette as ``TemporalQuantizer.plan`` decided it: what ``paint`` needs.

    display : (k, 3) uint8 palette (None for a fully transparent frame), with its Lab and
    working-space coordinates; labels : (n_distinct,) nearest entry of each distinct colour
    (None when dithering, which ``paint`` does per pixel); cand_packed : (n_pixels,) the colour
    each pixel gets from ``labels``, packed, when ``paint`` will track the screen (worked out here,
    beside the painting of the frame before, rather than in it).
    """

    colours: FrameColours
    shape: tuple[int, int]
    has_alpha: bool
    inertia: float
    n_iter: int
    fresh: bool
    cut: bool = False
    display: NDArray[np.uint8] | None = None
    display_lab: NDArray[np.float32] | None = None
    display_ws: NDArray | None = None
    labels: NDArray[np.uint8] | None = None
    cand_packed: NDArray[np.uint32] | None = None


class ColourIndexer:
    """Finds the distinct colours of frames, one frame after another, without an argsort.

    Sorting the packed colours (not arg-sorting them) gives the distinct colours and their counts;
    a 2^24-entry slot table, reused from frame to frame, then maps every pixel to its colour's
    index. Only the table entries of a frame's colours are written and read, so the table is never
    cleared. Not thread-safe: one indexer per thread.

    Results equal ``np.unique(packed, return_inverse=True, return_counts=True)``.
    """

    def __init__(self) -> None:
        # 16-bit slots while a frame has at most 65536 colours (half the memory to touch and
        # gather from), 32-bit ones beyond; each table is made on first need.
        self._slots: dict[type, NDArray] = {}
        # Per-pixel scratch arrays, kept from frame to frame: fresh ones of a few MB each would
        # be page-faulted in again every frame (the allocator hands large blocks back to the OS).
        self._scratch: dict[str, NDArray] = {}

    def _buffer(self, name: str, n: int, dtype: type) -> NDArray:
        buf = self._scratch.get(name)
        if buf is None or len(buf) < n:
            buf = self._scratch[name] = np.empty(n, dtype=dtype)
        return buf[:n]

    def distinct(
        self, rgba: NDArray[np.uint8], alpha_threshold: int = 128, *, opaque: bool = False
    ) -> DistinctColours:
        """Split a (height, width, 4) uint8 frame into its distinct opaque colours (``opaque``:
        every alpha is known to be 255, so it is not looked at)."""
        key = pack_rgb(rgba, out=self._buffer("key", rgba.shape[0] * rgba.shape[1], np.uint32))
        if opaque or alpha_threshold <= 0 or rgba[..., 3].min() >= alpha_threshold:
            opaque = np.ones(rgba.shape[:2], dtype=bool)  # one pass over alpha, no mask
        else:
            opaque = rgba[..., 3] >= alpha_threshold
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
        ordered = self._buffer("ordered", len(key), np.uint32)
        np.copyto(ordered, key)
        ordered.sort()
        first = self._buffer("first", len(key), np.bool_)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        uniq = ordered[starts]
        counts = np.diff(starts, append=len(ordered))
        dtype = np.uint16 if len(uniq) <= 1 << 16 else np.int32
        slot = self._slots.get(dtype)
        if slot is None:
            # Pages are only touched where colours occur; unwritten entries are never read.
            slot = self._slots[dtype] = np.empty(1 << 24, dtype=dtype)
        slot[uniq] = np.arange(len(uniq), dtype=dtype)
        inverse = np.take(slot, key, out=self._buffer(f"slots{dtype.__name__}", len(key), dtype))
        inverse = inverse.astype(np.int64)
        return unpack_rgb(uniq), counts.astype(np.int64), inverse


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


@dataclass(frozen=True)
class FrameColours:
    """What the quantizer needs of a frame that does not depend on earlier frames.

    source : the distinct colours; exact : (m, 3) float64, them in the working space;
    lab : (m, 3) float32, them in CIELAB; weights : (m,) float64, their pixel counts;
    scene : their ``scene_histogram``; fit_x, fit_w : the points (working space) and weights the
    k-means runs on
    """

    source: DistinctColours
    exact: NDArray[np.float64]
    lab: NDArray[np.float32]
    weights: NDArray[np.float64]
    scene: NDArray[np.float64]
    fit_x: NDArray[np.float64]
    fit_w: NDArray[np.float64]


def frame_colours(
    rgba: NDArray[np.uint8],
    options: QuantizeOptions,
    source: DistinctColours | None = None,
    *,
    opaque: bool = False,
) -> FrameColours:
    """The frame-local part of quantizing a (height, width, 4) frame under ``options``
    (``source``: its distinct colours, when already known; ``opaque``: every alpha is known to
    be 255)."""
    if source is None:
        source = distinct_colours(rgba, options.alpha_threshold, opaque=opaque)
    src = source
    exact = to_space(src.colours, options.space).astype(np.float64)
    lab = exact.astype(np.float32) if options.space == "lab" else rgb_to_lab(src.colours)
    weights = src.counts.astype(np.float64)
    if len(src.colours) <= _EXACT_FIT_LIMIT:
        fit_x, fit_w = exact, weights
    else:
        means, fit_w = colour_histogram(src.colours, src.counts, options.fit_bits)
        fit_x = to_space(means, options.space).astype(np.float64)
    scene = scene_histogram(src.colours, src.counts) if len(src.colours) else np.zeros(4096)
    return FrameColours(src, exact, lab, weights, scene, fit_x, fit_w)


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


def scene_histogram(colours: NDArray[np.uint8], counts: NDArray) -> NDArray[np.float64]:
    """Normalised 4-bit-per-channel colour histogram (4096,) for scene-cut detection."""
    c = colours.astype(np.int64) >> 4
    h = np.bincount((c[:, 0] << 8) | (c[:, 1] << 4) | c[:, 2], weights=counts, minlength=4096)
    return h / max(1.0, h.sum())


def as_items(lab: NDArray) -> NDArray[np.complex128]:
    """(n, 3) Lab as (n,) 16-byte items: float32 L, a, b and a zero, viewed as complex128."""
    wide = np.zeros((len(lab), 4), dtype=np.float32)
    wide[:, :3] = lab
    return wide.view(np.complex128).reshape(len(lab))


def from_items(items: NDArray[np.complex128]) -> NDArray[np.float32]:
    """The (n, 4) float32 view of ``as_items`` output: Lab and a zero, fit for distances."""
    return items.view(np.float32).reshape(len(items), 4)


@dataclass
class _Screen:
    """What the viewer sees, per pixel (flattened, fully opaque frames), and what painted it.

    A pixel's reference is the source Lab it had when it was last re-anchored: the last frame's
    source for every pixel but the held ones, which keep theirs in ``held_ref``. So the state
    is the last frame's distinct colours and index rather than a per-pixel copy of them.
    """

    packed: NDArray[np.uint32]  # (n,) colour on screen
    indices: NDArray[np.uint8] | None  # (n,) palette slot that painted it, when kept
    shape: tuple[int, int]
    last_lab: NDArray[np.complex128]  # (m,) the last frame's distinct colours' Lab, as items
    last_inverse: NDArray[np.int64]  # (n,) each pixel's index into ``last_lab``
    held: NDArray[np.bool_] | None = None  # (n,) pixels whose reference is older
    held_ref: NDArray[np.complex128] | None = None  # (n,) their reference (where ``held``)
    # Every colour painted since the screen was reset (sorted) and its Lab, as items: the Lab of
    # what is on screen, looked up for the few pixels that need it.
    shown: NDArray[np.uint32] = field(default_factory=lambda: np.zeros(0, np.uint32))
    shown_lab: NDArray[np.complex128] = field(default_factory=lambda: np.zeros(0, np.complex128))

    def screen_lab(self, idx: NDArray) -> NDArray[np.complex128]:
        """Lab items of the colours on screen at pixels ``idx``."""
        return np.take(self.shown_lab, np.searchsorted(self.shown, np.take(self.packed, idx)))

    def remember(self, packed: NDArray[np.uint32], items: NDArray[np.complex128]) -> None:
        """Add colours (a palette) to ``shown``; forget those no longer on screen when the
        table has grown large."""
        colours = np.concatenate([self.shown, packed])
        labs = np.concatenate([self.shown_lab, items])
        colours, first = np.unique(colours, return_index=True)
        self.shown, self.shown_lab = colours, labs[first]
        if len(self.shown) > _SHOWN_LIMIT:
            on_screen = np.unique(self.packed)
            self.shown_lab = np.take(self.shown_lab, np.searchsorted(self.shown, on_screen))
            self.shown = on_screen

    def reference(self, idx: NDArray | None = None) -> NDArray[np.complex128]:
        """The reference Lab items of pixels ``idx`` (all pixels when None)."""
        inv = self.last_inverse if idx is None else np.take(self.last_inverse, idx)
        ref = np.take(self.last_lab, inv)
        if self.held is not None:
            held = self.held if idx is None else np.take(self.held, idx)
            where = np.flatnonzero(held)
            if len(where):
                pixels = where if idx is None else np.take(idx, where)
                ref[where] = np.take(self.held_ref, pixels)
        return ref

    def re_anchor(
        self,
        lab_items: NDArray[np.complex128],
        inverse: NDArray[np.int64],
        held: NDArray,
        held_ref: NDArray[np.complex128],
    ) -> None:
        """Every pixel but ``held`` now refers to this frame's source; ``held`` pixels keep
        ``held_ref``."""
        self.last_lab, self.last_inverse = lab_items, inverse
        if len(held) == 0:
            self.held = None
            return
        if self.held_ref is None:
            self.held_ref = np.empty(len(inverse), dtype=np.complex128)
        self.held = np.zeros(len(inverse), dtype=bool)
        self.held[held] = True
        self.held_ref[held] = held_ref


@dataclass
class TemporalQuantizer:
    """Quantizes frames one after another, carrying the centres from frame to frame.

    With ``options.seeded`` each frame starts from the previous frame's centres, so colours that
    persist keep their palette slot, and the hysteresis of ``remap`` keeps still pixels still.
    Otherwise every frame is initialised afresh and assigned plainly (the flickering baseline).
    ``cuts`` lists the frames detected as scene cuts.
    """

    options: QuantizeOptions
    cuts: list[int] = field(default_factory=list)
    _centers: NDArray[np.float64] | None = field(default=None, init=False)
    _display: NDArray[np.uint8] | None = field(default=None, init=False)
    _hist: NDArray[np.float64] | None = field(default=None, init=False)
    _screen: _Screen | None = field(default=None, init=False)
    _mean_inertia: float | None = field(default=None, init=False)
    _n_frames: int = field(default=0, init=False)
    # Whether delta frames carry what is on screen (``QuantizedFrame.screen_packed``): video
    # output, comparisons and metrics read it; a GIF writer needs only the indices.
    export_screen: bool = field(default=True, kw_only=True)

    def _fit(
        self, fc: FrameColours, k: int, fresh: bool, frame_no: int
    ) -> tuple[NDArray[np.float64], float, int]:
        """Centres for this frame: seeded from the last frame's unless ``fresh``."""
        opt = self.options
        exact, weights, fit_x, fit_w = fc.exact, fc.weights, fc.fit_x, fc.fit_w

        def fresh_fit(n_init: int):
            return kmeans(
                fit_x,
                k,
                weights=fit_w,
                metric=opt.metric,
                init=opt.init,
                n_init=n_init,
                max_iter=opt.max_iter,
                tol=opt.tol,
                rng=np.random.default_rng([opt.seed, frame_no]),
            )

        if fresh or self._centers is None:
            res = fresh_fit(opt.n_init)
        else:
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
            # A seeded start can sit in a worse optimum than a fresh one (a new object came in):
            # when the error per pixel jumps, try a fresh start too and keep the better.
            per_px = res.inertia / fit_w.sum()
            if self._mean_inertia is not None and per_px > 1.25 * self._mean_inertia + 1e-9:
                alt = fresh_fit(1)
                if alt.inertia < 0.9 * res.inertia and len(alt.centers) == len(res.centers):
                    perm = match_slots(res.centers, alt.centers)
                    res = dataclasses.replace(alt, centers=alt.centers[perm])
        # Refine on the exact colours, so the centres are those of a full k-means on the frame:
        # each step assigns every distinct colour and moves each centre to its exact mean
        # (median). The final nearest-colour pass comes after the palette hysteresis.
        centers, inertia = res.centers, res.inertia
        for _ in range(opt.refine_iter):
            labels, dist = assign(exact, centers, opt.metric)
            inertia = float(np.einsum("i,i->", weights, dist))
            centers, _ = _update(exact, weights, labels, centers, opt.metric)
        return centers, inertia, res.n_iter + opt.refine_iter

    def quantize(
        self,
        rgba: NDArray[np.uint8],
        duration: float = 0.1,
        *,
        prepared: FrameColours | None = None,
    ) -> FrameResult:
        """Quantize one (height, width, 4) uint8 frame: ``paint(plan(...))``.

        prepared : the frame's ``frame_colours`` under these options, when the caller already
            has them (e.g. computed in another thread)
        """
        return self.paint(self.plan(rgba, prepared=prepared), duration)

    def plan(self, rgba: NDArray[np.uint8], *, prepared: FrameColours | None = None) -> FramePlan:
        """Decide a frame's palette from the frames planned before it (scene cut, seeded fit,
        palette hysteresis, each distinct colour's nearest entry). Touches none of the state
        ``paint`` uses, so frame n+1 can be planned while frame n is painted."""
        opt = self.options
        h, w = rgba.shape[:2]
        fc = frame_colours(rgba, opt) if prepared is None else prepared
        src = fc.source
        has_alpha = not src.all_opaque
        temporal = opt.seeded
        k = min(opt.k, 255) if has_alpha else opt.k
        frame_no = self._n_frames
        self._n_frames += 1
        if len(src.colours) == 0:  # fully transparent frame
            return FramePlan(fc, (h, w), has_alpha, inertia=0.0, n_iter=0, fresh=False)

        hist = fc.scene
        cut = (
            temporal
            and opt.scene_threshold is not None
            and self._hist is not None
            and 0.5 * float(np.abs(hist - self._hist).sum()) > opt.scene_threshold
        )
        self._hist = hist
        if cut:
            self.cuts.append(frame_no)

        exact = fc.exact
        fresh = not temporal or cut or self._centers is None
        if len(src.colours) <= k:
            # Fewer colours than entries: the palette is the colours themselves, lossless.
            centers, inertia, n_iter = exact, 0.0, 0
        else:
            centers, inertia, n_iter = self._fit(fc, k, fresh, frame_no)
            self._mean_inertia = inertia / src.counts.sum()
        if fresh and temporal and self._centers is not None and len(self._centers) == len(centers):
            centers = centers[match_slots(self._centers, centers)]
        if len(centers) >= k or self._centers is None or not temporal:
            self._centers = centers

        target = from_space(centers, opt.space)
        display = target
        if (
            temporal
            and not cut
            and self._display is not None
            and len(self._display) == len(target)
            and opt.palette_hysteresis > 0
        ):
            repaint = stable_palette(
                rgb_to_lab(self._display), rgb_to_lab(target), opt.palette_hysteresis
            )
            display = np.where(repaint[:, None], target, self._display)
        self._display = display
        display_lab = rgb_to_lab(display)
        display_ws = display_lab if opt.space == "lab" else to_space(display, opt.space)
        labels = cand_packed = None
        if opt.dither == "none" or len(display_ws) < 2:
            labels = nearest(exact, display_ws.astype(np.float64), opt.metric).astype(np.uint8)
            if any(self._modes(has_alpha)):
                cand_packed = np.take(pack_rgb(display)[labels], src.inverse)
        return FramePlan(
            fc,
            (h, w),
            has_alpha,
            inertia=inertia,
            n_iter=n_iter,
            fresh=fresh,
            cut=cut,
            display=display,
            display_lab=display_lab,
            display_ws=display_ws,
            labels=labels,
            cand_packed=cand_packed,
        )

    def _modes(self, has_alpha: bool) -> tuple[bool, bool]:
        """(pixel hysteresis, delta frames) for a frame: either means ``paint`` keeps the
        screen; a frame with alpha gets neither."""
        opt = self.options
        keep = opt.seeded and opt.pixel_hysteresis > 0 and not has_alpha
        return keep, opt.delta and not has_alpha

    def paint(self, plan: FramePlan, duration: float = 0.1) -> FrameResult:
        """Draw a planned frame: each pixel's entry (dithered if asked), the pixel hysteresis
        against what is on screen, the delta frame. Frames must be painted in planning order."""
        fc, src = plan.colours, plan.colours.source
        h, w = plan.shape
        if plan.display is None:  # fully transparent frame
            self._screen = None
            indices = np.zeros((h, w), dtype=np.uint8)
            frame = QuantizedFrame(indices, np.zeros((1, 3), np.uint8), 0, duration)
            return FrameResult(frame, src, 0.0, 0, False)
        if plan.cut:
            self._screen = None
        cand, labels = None, plan.labels
        keep, delta = self._modes(plan.has_alpha)
        if labels is None:
            cand = self._dither(src, fc.exact, plan.display_ws, h, w)
        frame = self._remap(
            src,
            fc.lab,
            cand,
            labels,
            plan.display,
            plan.display_lab,
            duration,
            keep=keep,
            delta=delta,
            cand_packed=plan.cand_packed,
        )
        return FrameResult(frame, src, plan.inertia, plan.n_iter, plan.fresh, plan.cut, fc.lab)

    def _dither(
        self, src: DistinctColours, exact: NDArray, display_ws: NDArray, h: int, w: int
    ) -> NDArray[np.uint8]:
        """Palette slot of each opaque pixel (flattened), dithered."""
        opt = self.options
        # Dither amplitude: the typical gap between neighbouring palette entries.
        d = np.sqrt(distances(display_ws, display_ws, "euclidean"))
        np.fill_diagonal(d, np.inf)
        spacing = float(np.median(d.min(1))) * opt.dither_strength
        full = np.zeros((h * w, 3), np.float32)
        opaque = src.opaque.reshape(-1)
        full[opaque] = exact[src.inverse]
        if opt.dither == "floyd-steinberg":
            active = np.ones(h * w, dtype=bool)
            scr = self._screen
            if (
                scr is not None
                and scr.shape == (h, w)
                and scr.indices is not None
                and scr.indices.max() < len(display_ws)
            ):
                src_lab = rgb_to_lab(src.colours)[src.inverse]
                moved = np.sqrt(((src_lab - from_items(scr.reference())[opaque, :3]) ** 2).sum(1))
                active[opaque] = moved >= max(opt.pixel_hysteresis, 1e-6)
            idx = floyd_steinberg(
                full.reshape(h, w, 3), display_ws, active.reshape(h, w), opt.dither_strength
            ).reshape(-1)
            if not active.all():
                # Still pixels keep the slot they were dithered to: the pattern stays put.
                idx[~active] = scr.indices[~active]
            return idx[opaque].astype(np.uint8)
        offsets = dither_offsets(opt.dither, h, w).reshape(-1)[opaque]
        values = full[opaque] + (offsets * spacing)[:, None]
        return nearest(values, display_ws, "euclidean").astype(np.uint8)

    def _remap(
        self,
        src: DistinctColours,
        lab: NDArray[np.float32],
        cand: NDArray[np.uint8] | None,
        labels: NDArray[np.uint8] | None,
        display: NDArray[np.uint8],
        display_lab: NDArray[np.float32],
        duration: float,
        *,
        keep: bool,
        delta: bool,
        cand_packed: NDArray[np.uint32] | None = None,
    ) -> QuantizedFrame:
        """Apply pixel hysteresis to the candidate slots and build the output frame.

        lab : (n_distinct, 3) Lab of the distinct colours; cand : (n_opaque,) slot per pixel, or
        None when it follows from labels : (n_distinct,) slot per distinct colour (no dither).
        With ``screen_keep`` a kept pixel keeps the colour on screen (it may come from an earlier
        palette: delta frames leave it untouched); otherwise it keeps its slot in the current
        palette, so the screen never shows more than K colours. Only pixels whose candidate
        differs from the screen are examined, so a still frame costs a few integer passes.
        """
        opt = self.options
        h, w = src.opaque.shape
        track = keep or delta
        # With the screen kept as colours, per-pixel slots are only needed for the few pixels
        # examined or painted: they are gathered through the distinct colours then.
        lazy = cand is None and delta and opt.screen_keep and track and src.all_opaque
        if cand is None and not lazy:
            cand = labels[src.inverse]
        if not track or not src.all_opaque:
            self._screen = None
            return self._plain_frame(src, cand, display, duration)
        # Per-pixel Lab lives as one 16-byte item a pixel (Lab + a zero): gathers and scatters
        # of single items are far faster than of rows, and distances are unchanged.
        lab_items = as_items(lab)
        display_items = as_items(display_lab)
        display_packed = pack_rgb(display)
        if cand_packed is None:  # (plans work it out when each distinct colour has one slot)
            cand_packed = np.take(
                display_packed if labels is None else display_packed[labels],
                cand if labels is None else src.inverse,
            )

        def slots_at(idx: NDArray) -> NDArray[np.uint8]:
            return np.take(labels, np.take(src.inverse, idx)) if cand is None else cand[idx]

        scr = self._screen
        if (
            scr is None
            or scr.shape != (h, w)
            or (scr.indices is not None and scr.indices.max() >= len(display))
        ):
            # Nothing usable on screen: paint everything.
            if cand is None:
                cand = labels[src.inverse]
            scr = _Screen(cand_packed, cand, (h, w), lab_items, src.inverse)
            scr.remember(display_packed, display_items)
            self._screen = scr
            # The screen's words change in place later: the frame keeps its own copy.
            painted = cand_packed.copy() if delta else None
            frame = self._plain_frame(src, cand, display, duration, screen_packed=painted)
            return frame
        differs = np.flatnonzero(cand_packed != scr.packed)
        held = differs[:0]
        held_ref = lab_items[:0]
        paint = differs
        new_slots = None
        if keep and len(differs):
            screen_level = delta and opt.screen_keep
            # Only pixels whose source stood still can keep anything: test that first, then
            # gather the screen and the candidate for those few.
            ref = scr.reference(differs)
            colour_of = np.take(src.inverse, differs)  # each examined pixel's distinct colour
            source = np.take(lab_items, colour_of)
            still = np.flatnonzero(
                moved_less(from_items(source), from_items(ref), opt.pixel_hysteresis, dims=3)
            )
            quiet = differs[still]
            before = (
                scr.screen_lab(quiet)
                if screen_level
                else np.take(display_items, np.take(scr.indices, quiet))
            )
            # Each examined pixel's slot, from the colours already gathered (one byte a pixel).
            slot_of = np.take(labels, colour_of) if cand is None else None
            quiet_slots = cand[quiet] if slot_of is None else slot_of[still]
            kept = still[
                ~clearly_better(
                    from_items(source[still]),
                    from_items(before),
                    from_items(np.take(display_items, quiet_slots)),
                    opt.pixel_hysteresis,
                )
            ]
            held, held_ref = differs[kept], ref[kept]
            painted = np.ones(len(differs), dtype=bool)
            painted[kept] = False
            paint = differs[painted]
            if cand is None:
                new_slots = slot_of[painted]
            if not screen_level:  # a held pixel keeps its slot, whose colour may have moved
                cand[held] = scr.indices[held]
                moved = display_packed[cand[held]] != scr.packed[held]
                paint = np.concatenate([paint, held[moved]])
                held, held_ref = held[~moved], held_ref[~moved]
        # Every pixel not held is re-anchored: its source is what it now shows.
        scr.re_anchor(lab_items, src.inverse, held, held_ref)
        if cand is None:
            scr.indices = None  # not kept: the screen is its colours
        else:
            old_slots = scr.indices[held]
            scr.indices = cand
            scr.indices[held] = old_slots
        if new_slots is None:
            new_slots = slots_at(paint)
        # The index that means "unchanged": one past the palette, or at K=256 a slot no painted
        # pixel uses.
        transparent = len(display)
        if delta and len(display) == 256:
            counts = np.bincount(new_slots, minlength=256)
            if counts.all():
                # Every entry is painted with: none is left to mean "unchanged".
                new_slots, transparent = self._free_a_slot(
                    new_slots,
                    counts,
                    lambda i: np.take(lab_items, np.take(src.inverse, paint[i])),
                    display_items,
                )
                if cand is not None:
                    cand[paint] = new_slots
            else:
                transparent = int(np.flatnonzero(counts == 0)[-1])
        scr.packed[paint] = display_packed[new_slots]
        scr.remember(display_packed, display_items)
        if delta:
            palette = display
            if transparent == len(display):
                palette = np.concatenate([display, np.zeros((1, 3), np.uint8)])
            indices = np.full(h * w, transparent, dtype=np.uint8)
            indices[paint] = new_slots
            frame = QuantizedFrame(
                indices.reshape(h, w),
                palette,
                transparent,
                duration,
                delta=True,
                screen_packed=scr.packed.reshape(h, w).copy() if self.export_screen else None,
            )
        else:
            frame = QuantizedFrame(
                scr.indices.astype(np.uint8).reshape(h, w), display, None, duration
            )
        return frame

    @staticmethod
    def _free_a_slot(
        slots: NDArray,
        counts: NDArray,
        source_items: Callable[[NDArray], NDArray],
        display_items: NDArray,
    ) -> tuple[NDArray, int]:
        """At K=256 every entry may be painted with, leaving no index to mean "unchanged": the
        least used one's pixels then move to their next-nearest entry (a small loss on a few
        pixels, instead of repainting the whole frame). ``counts``: the slots' bincount;
        ``source_items(i)``: the source Lab items of pixels ``slots[i]``. Returns the new slots
        and the freed one."""
        j = int(np.argmin(counts))
        moved = np.flatnonzero(slots == j)
        others = np.delete(np.arange(256), j)
        near, _ = assign(
            from_items(source_items(moved))[:, :3].astype(np.float64),
            from_items(display_items[others])[:, :3].astype(np.float64),
            "euclidean",
        )
        slots = slots.copy()
        slots[moved] = others[near]
        return slots, j

    def _plain_frame(
        self,
        src: DistinctColours,
        cand: NDArray[np.int64],
        display: NDArray[np.uint8],
        duration: float,
        *,
        screen_packed: NDArray[np.uint32] | None = None,
    ) -> QuantizedFrame:
        """Every pixel painted with its candidate slot (transparent ones with their own entry).

        ``screen_packed`` (fully opaque frames only): the painted colours, making it a delta
        frame that starts the screen.
        """
        h, w = src.opaque.shape
        if src.all_opaque:
            # A first frame paints every pixel: no index needs to mean transparent.
            indices = cand.astype(np.uint8).reshape(h, w)
            if screen_packed is None:
                return QuantizedFrame(indices, display, None, duration)
            return QuantizedFrame(
                indices,
                display,
                None,
                duration,
                delta=True,
                screen_packed=screen_packed.reshape(h, w),
            )
        transparent = len(display)
        palette = np.concatenate([display, np.zeros((1, 3), np.uint8)])
        indices = np.full((h, w), transparent, dtype=np.uint8)
        indices[src.opaque] = cand
        return QuantizedFrame(indices, palette, transparent, duration)
