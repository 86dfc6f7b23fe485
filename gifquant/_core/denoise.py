"""Temporal denoising of the source: camera noise held still, real changes taken at once.

A still surface filmed by a camera changes a little in every frame (sensor and codec noise). Fed
as it is to the quantizer, every frame's pixels differ, so every delta frame is full and still
surfaces shimmer. Here each pixel's value is held while its changes stay within the noise the
clip shows, and is taken afresh from the source on the frame it really changes:

- the noise is measured per 16x16 block from the temporal second difference
  ``x[t] - (x[t-1] + x[t+1]) / 2``: noise blips give it a spread, while still pixels, fades and
  steady motion give next to none. A clip in which fewer than 1% of the pixels blip (a drawing,
  a screen recording, pixel art, a clean render) is passed through untouched, bit for bit.
- a pixel keeps a running mean of its values since its last real change. On each frame the
  look-ahead gives the run of the next frames that agree with this one (within the noise); the
  pixel restarts from the source when that run's mean leaves the running mean by more than the
  noise of the two allows (4 sigma) and by more than ``PERSIST`` levels. A one-frame blip has a
  run of one and must clear 4 sigma on its own; a small change that lasts is seen by its run on
  the frame it happens, so nothing trails or lags.
- where the picture moves (a block with a tenth of its pixels changing by more than ``CAP``),
  a moving camera's blocks are taken as they come; a still camera's moving blocks give up
  only the pixels that move and their rims (``Denoiser._take_moving``).
- the value shown (fed to the quantizer) is the best estimate of the still value (the running
  mean with the run's), and moves only when that estimate leaves it by more than the noise
  (at least ``SHOWN_MIN`` levels), so a held pixel does not change from frame to frame.

A held pixel is never further from its source's still value than those thresholds, so what is
held is within the clip's noise. ``strength`` scales the thresholds (1: the measured noise).

The per-pixel step is compiled (``_kernels.denoise``); ``step_reference`` is the same maths in
numpy, kept as the tests' oracle.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .._kernels import (
    block_gradient,
    block_noise_sums,
    block_sums,
    denoise_step,
    indexed_noise_sums,
)
from .colour import pack_rgb
from .frames import Frame, IndexedPixels

BLOCK = 16  # pixels a side of the blocks the noise is measured in
LOOKAHEAD = 4  # frames seen at once: the current one and three ahead
FLOOR = 1.0  # levels: the least noise a noisy clip's block is taken to have
PERSIST = 3.0  # levels: a steady shift smaller than this is followed, not restarted on
SHOWN_MIN, SHOWN_MAX = 2.5, 4.0  # levels: the shown value's hysteresis (sigma, clipped)
TIGHT = 1.5  # levels: PERSIST and SHOWN_MIN in smooth blocks, where a held step would show
GRADIENT = 1.0  # levels a pixel: a block of the shown frame smoother than this is smooth
MEMORY = 64  # frames: the running mean's longest memory, so it follows a slow drift
CAP = 16.0  # levels: a second difference beyond this is motion, not noise
SMALL = 8.0  # levels: second differences up to this are what noise looks like
MOVING = 0.1  # a block where this share of the pixels moves (> CAP levels) is not held
NOISY = 0.01  # a clip is noisy when this share of a frame's pixels blip by 1 to SMALL levels
CHURN = 0.5  # a change at least this much palette churn (``palette_churn``) is not noise
MAX_PIXELS = 1 << 21  # frames this large (over 1080p) are not denoised: memory, see denoised
DRIFT = 0.3  # levels a frame: a block whose mean moves this fast, steadily, drifts
DRIFT_SPAN = 8  # frames before the current one the drift is measured over (and the look-ahead)
DRIFT_JUMP = 1.5  # levels: a drifting block's mean moves no more than this a frame
# An area drifting (``Denoiser._drifting``): its blocks' means move at least AREA_DRIFT levels a
# frame, in steps of up to AREA_JUMP (a codec's redraws), one way (their net move at least
# STEADY of their path), in both halves of the span, and so do AREA_NEIGHBOURS of the 8 around;
# it is told from AREA_SPAN frames on (the look-ahead and 2 before: a clip's first frames).
AREA_DRIFT, AREA_JUMP, STEADY, AREA_NEIGHBOURS, AREA_SPAN = 0.2, 3.0, 0.4, 3, 6
LOCAL_MOTION = 0.25  # a frame with fewer moving blocks than this share is a still camera's
MOTION = 8.0  # levels: in a still camera's moving block, a pixel changing more than this moves
MOTION_NEAR = 2  # pixels: and so do its neighbours this near, in moving blocks
STEPPED = 0.25  # a drifting block with this share of exactly still pixels is not held
_HISTORY = 7  # frames of measurements the noise estimate is the median of
_NOISE_PER_BLIP = 4.5  # white noise of sigma s gives E|lap|^2 = 4.5 s^2 over three channels


def _slope(series: NDArray[np.float32]) -> NDArray[np.float64]:
    """The least-squares slope (levels a frame) of (n, ...) values over n consecutive frames."""
    x = np.arange(len(series)) - (len(series) - 1) / 2
    return np.tensordot(x / (x * x).sum(), series, axes=(0, 0))


def _neighbours(flags: NDArray[np.bool_]) -> NDArray[np.int64]:
    """How many of each block's 8 neighbours are flagged, per channel ((hb, wb, c) bools)."""
    padded = np.pad(flags.astype(np.int64), ((1, 1), (1, 1), (0, 0)))
    hb, wb = flags.shape[:2]
    total = sum(padded[y : y + hb, x : x + wb] for y in range(3) for x in range(3))
    return total - flags


def block_noise(
    prev: NDArray[np.uint8], cur: NDArray[np.uint8], nxt: NDArray[np.uint8]
) -> tuple[NDArray[np.float32], float, NDArray[np.bool_]]:
    """Each 16x16 block's noise sigma (levels), shape (ceil(h/16), ceil(w/16)), -1 for a moving
    block, the share of the frame's pixels that blip, and the blocks where any pixel moves
    (changes by more than ``CAP``), from three consecutive (h, w, >=3) uint8 frames.

    A pixel blips when its second difference is at least one level long (capped at ``CAP``).
    Codec noise is sparse (most pixels exactly still, some off by a level or two for a frame),
    sensor noise dense; what a held pixel must absorb is the size of the blips that do occur,
    so a block's sigma is the RMS of its blips over sqrt(4.5) (0 where none blip).
    """
    sums = block_noise_sums(prev, cur, nxt, BLOCK, CAP, SMALL)
    return _block_sigma(*sums, cur.shape[:2])


def indexed_noise(
    prev: IndexedPixels, cur: IndexedPixels, nxt: IndexedPixels
) -> tuple[NDArray[np.float32], float, NDArray[np.bool_]]:
    """``block_noise`` of three frames that draw one colour ``table`` (the same array), from
    their indices: a pixel whose index is the same in all three has no second difference and
    does not move (nearly every pixel of a clean GIF), so only the others' colours are looked
    up (compiled: ``indexed_noise_reference``), and no frame is expanded to colours."""
    h, w = cur.indices.shape
    indices = [np.ascontiguousarray(px.indices) for px in (prev, cur, nxt)]
    table = np.ascontiguousarray(cur.table)
    sums = indexed_noise_sums(*indices, table, BLOCK, CAP, SMALL)
    return _block_sigma(*sums, (h, w))


def indexed_noise_reference(
    prev: IndexedPixels, cur: IndexedPixels, nxt: IndexedPixels
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], int]:
    """``_kernels.indexed_noise_sums`` in numpy: ``block_noise_reference`` of the colours."""
    return block_noise_reference(*(cur.table[px.indices] for px in (prev, cur, nxt)))


def _block_sigma(
    e2_sum: NDArray[np.float64],
    n_blip: NDArray[np.int64],
    n_moving: NDArray[np.int64],
    n_small: int,
    shape: tuple[int, int],
) -> tuple[NDArray[np.float32], float, NDArray[np.bool_]]:
    """``block_noise``'s sigma, share and stirred blocks from ``block_noise_sums``' sums over a
    frame of ``shape`` (h, w)."""
    sigma = np.sqrt(e2_sum / np.maximum(n_blip, 1) / _NOISE_PER_BLIP).astype(np.float32)
    # A block where a tenth of the pixels move is marked by -1: what moves there is the
    # picture, its noise cannot be told from its motion (``Denoiser._noise`` says what is held).
    sigma[n_moving > MOVING * BLOCK * BLOCK] = -1
    return sigma, float(n_small) / (shape[0] * shape[1]), n_moving > 0


def block_means(img: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Each 16x16 block's mean colour (levels), shape (ceil(h/16), ceil(w/16), c) for an
    (h, w, c) image (c <= 3 counted); the sums are compiled (``block_sums_reference``)."""
    h, w = img.shape[:2]
    n_rows = np.minimum(BLOCK, h - np.arange(0, h, BLOCK))
    n_cols = np.minimum(BLOCK, w - np.arange(0, w, BLOCK))
    sums = block_sums(img, BLOCK)
    return (sums / (n_rows[:, None, None] * n_cols[None, :, None])).astype(np.float32)


def palette_churn(prev: NDArray[np.uint8], cur: NDArray[np.uint8]) -> float:
    """How much of the change between two frames is whole colours becoming other colours.

    A clean animation stored as a GIF with a palette per frame changes this way: every pixel
    of a colour becomes the same new colour (a gradient's steps move). Noise scatters a
    colour's pixels over many colours, or moves a few of them and leaves the rest. Returns the
    share of the changed pixels (on a grid of at most ~40,000) whose colour's most common
    successor is one other colour, and that successor: about 1 for a palette change, low for
    noise (a clip of such frames is not denoised, so no still colour is shown two ways).
    """
    h, w = cur.shape[:2]
    step = max(1, int(np.sqrt(h * w / 40000)))
    a = _packed(prev[::step, ::step])
    b = _packed(cur[::step, ::step])
    moved = a != b
    if not moved.any():
        return 0.0
    pairs, counts = np.unique((a << 24) | b, return_counts=True)
    src = pairs >> 24
    # Per source colour, its most common successor: sort by colour, then by count.
    order = np.lexsort((-counts, src))
    first = np.ones(len(order), bool)
    first[1:] = src[order][1:] != src[order][:-1]
    top = order[first]
    per_colour = np.add.reduceat(counts[order], np.flatnonzero(first))
    # Only colours on several pixels tell: noise in continuous tone gives each pixel its own.
    shared = per_colour >= 3
    changed_top = ((pairs[top] & 0xFFFFFF) != src[top]) & shared
    return float(counts[top][changed_top].sum()) / float(np.count_nonzero(moved))


def _packed(rgb: NDArray[np.uint8]) -> NDArray[np.int64]:
    c = rgb[..., :3].reshape(-1, 3).astype(np.int64)
    return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


def block_noise_reference(
    prev: NDArray[np.uint8], cur: NDArray[np.uint8], nxt: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], NDArray[np.int64], int]:
    """``_kernels.block_noise_sums`` in numpy: per block the sum of the blips' squared second
    differences, their count and the moving pixels' count, and the frame's count of small
    blips."""
    c = cur[..., :3].astype(np.float64)
    p, n = prev[..., :3].astype(np.float64), nxt[..., :3].astype(np.float64)
    moving = (((c - p) ** 2).sum(2) > CAP * CAP) | (((n - c) ** 2).sum(2) > CAP * CAP)
    lap = cur[..., :3].astype(np.float64) - 0.5 * (prev[..., :3] + nxt[..., :3].astype(np.float64))
    e2 = np.minimum((lap * lap).sum(2), CAP * CAP)
    blip = e2 >= 1.0
    h, w = e2.shape
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)

    def sums(a: NDArray) -> NDArray:
        padded = np.zeros((hb * BLOCK, wb * BLOCK), a.dtype)
        padded[:h, :w] = a
        return padded.reshape(hb, BLOCK, wb, BLOCK).sum((1, 3))

    small = int(np.count_nonzero(blip & (e2 <= SMALL * SMALL)))
    blips = sums(blip.astype(np.int64))
    return sums(np.where(blip, e2, 0.0)), blips, sums(moving.astype(np.int64)), small


def block_sums_reference(img: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """``_kernels.block_sums`` in numpy: rows of blocks summed first (whole rows at once),
    then each row's blocks."""
    h, w = img.shape[:2]
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)
    a = img[..., :3]
    c = a.shape[2]
    if h % BLOCK:
        a = np.concatenate([a, np.zeros((hb * BLOCK - h, w, c), np.uint8)])
    rows = a.reshape(hb, BLOCK, w, c).sum(1, dtype=np.uint32)
    if w % BLOCK:
        rows = np.concatenate([rows, np.zeros((hb, wb * BLOCK - w, c), np.uint32)], 1)
    return rows.reshape(hb, wb, BLOCK, c).sum(2)


def block_gradient_reference(img: NDArray[np.uint8]) -> NDArray[np.float64]:
    """``_kernels.block_gradient`` in numpy."""
    a = img[..., :3].astype(np.int64)
    g = np.zeros(a.shape[:2], np.int64)
    g[1:-1, 1:-1] = (np.abs(a[1:-1, 2:] - a[1:-1, :-2]) + np.abs(a[2:, 1:-1] - a[:-2, 1:-1])).sum(2)
    h, w = g.shape
    hb, wb = -(-h // BLOCK), -(-w // BLOCK)
    padded = np.zeros((hb * BLOCK, wb * BLOCK))
    padded[:h, :w] = g
    ones = np.zeros((hb * BLOCK, wb * BLOCK))
    ones[:h, :w] = 1
    return padded.reshape(hb, BLOCK, wb, BLOCK).sum((1, 3)) / (
        6.0 * ones.reshape(hb, BLOCK, wb, BLOCK).sum((1, 3))
    )


def step_reference(
    window: list[NDArray[np.uint8]],
    sigma: NDArray[np.float64],
    tight: NDArray[np.bool_],
    state: tuple[NDArray, ...],
) -> int:
    """``_kernels.denoise_step`` in numpy: one frame's step on the denoiser's ``state``, ``(mean,
    count, shown)`` (``mean`` (h, w, 3) float32, ``count`` (h, w) uint8, ``shown`` (h, w, 4)
    uint8, updated in place), ``sigma`` (h, w) the pixels' noise times the strength, ``tight``
    (h, w) the smooth blocks' pixels; returns the pixels held (``shown`` not the source)."""
    mean, count, shown = state
    src = window[0][..., :3]
    x = src.astype(np.float64)
    s2 = sigma * sigma
    run_sum, run_n = x.copy(), np.ones(sigma.shape)
    going = np.ones(sigma.shape, bool)
    for f in window[1:]:
        fv = f[..., :3].astype(np.float64)
        going &= ((fv - x) ** 2).sum(2) <= 32 * s2
        run_sum += fv * going[..., None]
        run_n += going
    run = run_sum * (1.0 / run_n)[..., None]  # by reciprocals, as the kernel does
    n = count.astype(np.float64)
    m = mean.astype(np.float64)
    dr = ((run - m) ** 2).sum(2)
    persist = np.where(tight, TIGHT, PERSIST)
    with np.errstate(divide="ignore", invalid="ignore"):  # a new pixel (n = 0) restarts anyway
        threshold = np.maximum(16 * s2 * (1.0 / run_n + 1.0 / n), persist * persist)
    rgb = shown[..., :3]
    restart = (count == 0) | (dr > threshold) | (sigma == 0)
    n_new = np.where(restart, 1.0, np.minimum(n + 1, MEMORY))
    m_new = np.where(restart[..., None], x, m + (x - m) * (1.0 / n_new)[..., None])
    m_new = m_new.astype(np.float32)
    m64 = m_new.astype(np.float64)
    est = np.where(
        restart[..., None],
        np.where((sigma == 0)[..., None], x, run),
        (m64 * n_new[..., None] + run * run_n[..., None]) * (1.0 / (n_new + run_n))[..., None],
    )
    q = np.clip(sigma, np.where(tight, TIGHT, SHOWN_MIN), SHOWN_MAX)
    move = (((est - rgb) ** 2).sum(2) > q * q) | (sigma == 0)
    rgb[move] = np.clip(np.floor(est[move] + 0.5), 0, 255).astype(np.uint8)
    shown[..., 3] = window[0][..., 3] if window[0].shape[2] > 3 else 255
    mean[...] = m_new
    count[...] = n_new.astype(np.uint8)
    return int(np.count_nonzero((rgb != src).any(2)))


def _rgba(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``frame`` as the kernel reads it: (h, w, 4) C-contiguous (an RGB frame gets alpha 255)."""
    if frame.shape[2] == 4:
        return np.ascontiguousarray(frame)
    out = np.full(frame.shape[:2] + (4,), 255, np.uint8)
    out[..., :3] = frame[..., :3]
    return out


class Step(NamedTuple):
    """One frame's denoising: ``fed`` (h, w, 4) uint8, the pixels to quantize; ``held``, how
    many are not the source's; ``still``, a (h, w) mask of those whose source is exactly as
    in the frame before (the denoiser's own array: copy it to keep it past the next step);
    ``keys``, the source's colours packed (``colour.pack_rgb``, (h * w,) uint32)."""

    fed: NDArray[np.uint8]
    held: int
    still: NDArray[np.bool_]
    keys: NDArray[np.uint32]


class Denoiser:
    """A clip's denoising state (``Frame``s, their pixels (h, w, 3 or 4) uint8; a new size
    starts afresh).

    ``step(window)`` takes the current frame and up to ``LOOKAHEAD - 1`` frames after it (fewer
    at the clip's end) and returns its ``Step``, or None when the frame is to be quantized as it
    is (the clip shows no noise). About 17 bytes a pixel of state. A clean clip's frames held
    as palette indices are not expanded to colours (see ``indexed_noise``).
    """

    def __init__(self, strength: float = 1.0) -> None:
        if not strength > 0:
            raise ValueError(f"strength must be more than 0, not {strength}")
        self.strength = float(strength)
        self._prev: Frame | None = None  # the last frame stepped
        self._before: Frame | None = None  # the one before the current frame
        self._history: list[tuple[NDArray[np.float32], float, NDArray[np.bool_]]] = []
        self._churn = 0.0
        self._frame = 0
        self._state: tuple[NDArray, ...] | None = None
        self._tight = np.zeros((0, 0), np.uint8)  # per block: smooth in the last shown frame
        self._means: dict[int, NDArray[np.float32]] = {}  # frame number -> its block means
        self._stills: list[NDArray[np.float32]] = []  # recent frames' blocks' still shares
        # The last noisy frame and its colours packed (h, w) uint32, and which of its pixels
        # are exactly as in the frame before (``_see``).
        self._keys: tuple[Frame, NDArray[np.uint32]] | None = None
        self._still: NDArray[np.bool_] | None = None
        self._moving: NDArray[np.bool_] | None = None  # a still camera's moving blocks

    def _noise(self, window: list[Frame]) -> NDArray[np.float32] | None:
        """Per-block noise sigma of the current frame (None: no noise), from recent frames:
        measured every other frame (the median of the last few is what counts). Sets
        ``_moving``: a still camera's moving blocks, whose moving pixels ``_take_moving``
        takes (None when the camera moves: its moving blocks get sigma 0 here)."""
        if self._frame % 2 == 0 or not self._history:
            self._measure(window)
        shares = [s for _, s, _ in self._history]
        # (The median is no more than the largest: that one is enough for a clean clip.)
        if not shares or max(shares) < NOISY or np.median(shares) < NOISY:
            return None
        self._see(window[0])
        stack = np.stack([b for b, _, _ in self._history])
        moving = stack[-1] < 0  # the latest measure says where the picture moves now
        sigma = np.median(np.where(stack < 0, 0, stack), axis=0)
        measured = sigma[sigma > 0]
        # A block crossed by motion measures high; noise is about even over a frame, so no
        # block is taken as noisier than 1.5 times the typical one.
        typical = max(FLOOR, float(np.median(measured))) if measured.size else FLOOR
        sigma = np.clip(sigma, FLOOR, 1.5 * typical)
        if moving.mean() < LOCAL_MOTION:
            # A still camera: things move over a still scene. Their blocks are held at the
            # typical noise and their moving pixels taken afterwards (``_take_moving``).
            sigma[moving] = typical
            self._moving = moving
        else:
            # The camera moves: a smooth area gliding by changes by less than a noise
            # threshold a frame, so the moving blocks are taken whole (the kernel's sigma 0).
            sigma[moving] = 0
            self._moving = None
        if self._tight.shape == sigma.shape:  # not on the first noisy frame of this size
            sigma[self._stepped_drift(window)] = 0
        return sigma.astype(np.float32)

    def _stepped_drift(self, window: list[Frame]) -> NDArray[np.bool_]:
        """The blocks that drift (``_drifting``) in a codec's steps: a good share of
        their pixels exactly as in the frame before (``STEPPED``). Held, such a block's pixels
        would be shown now by their held value, now (exactly still) by their source colour's
        entry, and flicker between the two; taken as they come they step as the source does.
        (A drift under dense noise, which no codec has smoothed, is held.)"""
        drifting, area = self._drifting(window)
        if self._still is None:
            return drifting | area
        still = block_means(self._still[..., None].view(np.uint8))[..., 0]
        self._stills.append(still)
        del self._stills[:-DRIFT_SPAN]
        # An area's block is judged on recent frames: it is seldom exactly still on the frame
        # the codec redraws it, and held on that frame alone it would lag and then jump. And
        # nothing moves through it (no pixel changed by more than ``CAP`` in the last two
        # measures): an object's edge crossing a block slowly moves its mean steadily too.
        stirred = np.logical_or.reduce([m for _, _, m in self._history[-2:]])
        area &= (np.max(self._stills, axis=0) >= STEPPED) & ~stirred
        return (drifting & (still >= STEPPED)) | area

    def _drifting(self, window: list[Frame]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """The blocks whose mean moves steadily one way, by two rules (each (hb, wb) bools).
        A block drifts (a gradient moving slowly, a fade) when the least-squares slope of its
        mean over the last ``DRIFT_SPAN`` frames and the look-ahead is ``DRIFT`` levels a frame
        or more, in steps of at most ``DRIFT_JUMP``. Noise and a codec's one-off steps give a
        far smaller slope over that many frames; something crossing the block moves its mean
        in jumps. An area drifts more slowly, and in a codec's larger steps (a block redrawn
        when it is a level or two off): see ``AREA_DRIFT``; a codec's jitter moves a still
        block's mean to and fro, or in one step, and one block here and there."""
        t = self._frame
        for i, f in enumerate(window):
            if t + i not in self._means:
                self._means[t + i] = block_means(f.rgba)
        for old in [i for i in self._means if i < t - DRIFT_SPAN]:
            del self._means[old]
        frames = sorted(self._means)
        none = np.zeros(self._means[t].shape[:2], bool)
        if len(frames) < AREA_SPAN:
            return none, none
        span = np.stack([self._means[i] for i in frames])
        moves = np.diff(span, axis=0)
        slope = _slope(span)
        drifting = ((abs(moves) <= DRIFT_JUMP).all(0) & (abs(slope) >= DRIFT)).any(-1)
        if len(frames) < DRIFT_SPAN:
            drifting = none
        area = (abs(moves) <= AREA_JUMP).all(0) & (abs(slope) >= AREA_DRIFT)
        area &= abs(span[-1] - span[0]) >= STEADY * abs(moves).sum(0)
        half = len(frames) // 2
        for part in (span[:half], span[-half:]):
            area &= np.sign(slope) * _slope(part) >= AREA_DRIFT / 2
        near = [_neighbours(area & (np.sign(slope) == sign)) for sign in (1, -1)]
        area = (area & ((near[0] >= AREA_NEIGHBOURS) | (near[1] >= AREA_NEIGHBOURS))).any(-1)
        return drifting, area

    def _measure(self, window: list[Frame]) -> None:
        """The current frame's per-block sigma and noisy share into the history (none when
        there is no frame on each side of it)."""
        cur = window[0]
        # The first frame has none before it: the second difference at the next one stands in.
        prev = self._prev if self._prev is not None else (window[2] if len(window) > 2 else None)
        if prev is None or len(window) < 2:
            return
        nxt = window[1]
        px = (prev.indexed, cur.indexed, nxt.indexed)
        if None not in px and px[0].table is px[1].table is px[2].table:
            sigma, share, stirred = indexed_noise(*px)
        else:
            sigma, share, stirred = block_noise(prev.rgba, cur.rgba, nxt.rgba)
        if share >= NOISY:
            if self._frame % 8 == 0 or not self._history:
                self._churn = palette_churn(prev.rgba, cur.rgba)
            if self._churn >= CHURN:
                share = 0.0  # the colours changed as wholes: a new palette, not noise
        self._history.append((sigma, share, stirred))
        del self._history[:-_HISTORY]

    def step(self, window: list[Frame]) -> Step | None:
        state = self._begin(window)
        if state is None:
            return None
        blocks, tight, (mean, count, shown) = state
        held = denoise_step(
            [_rgba(f.rgba) for f in window], blocks, tight, BLOCK, mean, count, shown,
            PERSIST, SHOWN_MIN, SHOWN_MAX, TIGHT, MEMORY,
        )  # fmt: skip
        held = self._take_moving(window, held)
        return self._finish(held, lambda: block_gradient(shown, BLOCK))

    def step_reference(self, window: list[Frame]) -> Step | None:
        """``step`` through the numpy reference (the tests' oracle)."""
        state = self._begin(window)
        if state is None:
            return None
        blocks, tight, (_, _, shown) = state
        h, w = window[0].shape
        sigma = np.repeat(np.repeat(blocks.astype(np.float64), BLOCK, 0), BLOCK, 1)[:h, :w]
        tight = np.repeat(np.repeat(tight.astype(bool), BLOCK, 0), BLOCK, 1)[:h, :w]
        held = step_reference([f.rgba for f in window], sigma, tight, self._state)
        held = self._take_moving(window, held)
        return self._finish(held, lambda: block_gradient_reference(shown))

    def _take_moving(self, window: list[Frame], held: int) -> int:
        """In the moving blocks of a still camera's frame (``_noise``), the pixels that move
        take their source as it comes (as the kernel's sigma 0 does): those that change by more
        than ``MOTION`` levels from the frame before or to the next one, and their neighbours
        within ``MOTION_NEAR`` pixels in moving blocks (an edge's soft rim). The rest of such a
        block is held as any other: the inside of a flat object moving over the scene, the still
        background beside it. Returns ``held`` less the pixels so taken that were held."""
        if self._moving is None or not self._moving.any():
            return held
        mean, count, shown = self._state
        cur = window[0].rgba
        h, w = cur.shape[:2]
        # The moving blocks' pixels with a rim of MOTION_NEAR around each, (blocks, n, n) (past
        # the frame's edge the edge pixels repeat: they are dropped below).
        r = MOTION_NEAR
        by, bx = np.nonzero(self._moving)
        ys = by[:, None] * BLOCK + np.arange(-r, BLOCK + r)
        xs = bx[:, None] * BLOCK + np.arange(-r, BLOCK + r)
        valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
        ys, xs = np.clip(ys, 0, h - 1)[:, :, None], np.clip(xs, 0, w - 1)[:, None, :]
        inside = valid & self._moving[ys // BLOCK, xs // BLOCK]
        now = cur[ys, xs]
        take = np.zeros(valid.shape, bool)
        for other in (self._before, window[1] if len(window) > 1 else None):
            if other is not None:
                there = other.rgba[ys, xs]
                change = np.maximum(there, now) - np.minimum(there, now)
                for c in range(3):
                    take |= change[..., c] > MOTION
        take &= inside
        for _ in range(r):
            grown = take.copy()
            grown[:, 1:] |= take[:, :-1]
            grown[:, :-1] |= take[:, 1:]
            grown[:, :, 1:] |= take[:, :, :-1]
            grown[:, :, :-1] |= take[:, :, 1:]
            take = grown & inside
        # Each block's own pixels (its rim belongs to its neighbours, or to no moving block).
        take, ys, xs = (
            take[:, r : r + BLOCK, r : r + BLOCK],
            ys[:, r : r + BLOCK],
            xs[:, :, r : r + BLOCK],
        )
        ty, tx = np.broadcast_to(ys, take.shape)[take], np.broadcast_to(xs, take.shape)[take]
        src = cur[ty, tx, :3]
        was_held = int(np.count_nonzero((shown[ty, tx, :3] != src).any(-1)))  # numpy 2: int64
        mean[ty, tx] = src
        count[ty, tx] = 1
        shown[ty, tx, :3] = src
        return held - was_held

    def _finish(self, held: int, gradient) -> Step:
        """The stepped frame's ``Step``; every 4th frame the smooth blocks are looked at again
        (``gradient()``: the shown frame's per-block gradient): they change slowly."""
        shown = self._state[2]
        if self._frame % 4 == 1:
            self._tight = (gradient() < GRADIENT).astype(np.uint8)
        # Every pixel whose source is exactly as in the frame before: held or not, the
        # painter shows it as its colour's other pixels are shown.
        # (No frame before this one, or one of another size: none.)
        still = np.zeros(shown.shape[:2], bool) if self._still is None else self._still
        return Step(shown.copy(), held, still, self._keys[1].reshape(-1))

    def _see(self, cur: Frame) -> None:
        """The current frame's colours packed (``_keys``) and its pixels exactly as in the frame
        before (``_still``; None: no frame before of its size), for a noisy frame."""
        last = None
        if self._prev is not None:
            if self._keys is not None and self._keys[0] is self._prev:
                last = self._keys[1]
            else:
                last = pack_rgb(self._prev.rgba).reshape(self._prev.shape)
        keys = pack_rgb(cur.rgba).reshape(cur.shape)
        self._still = None if last is None else keys == last
        self._keys = (cur, keys)

    def _begin(self, window: list[Frame]):
        """The frame's per-block sigma times the strength, the smooth blocks and the state to
        step, or None when the clip shows no noise (then the state is dropped: it starts
        afresh when noise shows)."""
        cur = window[0]
        h, w = cur.shape
        if self._prev is not None and self._prev.shape != cur.shape:
            self._history.clear()
            self._means.clear()
            self._stills.clear()
            self._state = self._prev = None
        self._frame += 1
        blocks = self._noise(window)
        self._before, self._prev = self._prev, cur
        if blocks is None:
            self._state = None
            return None
        if self._state is None or self._tight.shape != blocks.shape:
            self._tight = np.zeros(blocks.shape, np.uint8)
            shown = np.empty((h, w, 4), np.uint8)  # a copy: the source is not ours
            shown[..., :3] = cur.rgba[..., :3]
            self._state = (
                np.zeros((h, w, 3), np.float32),
                np.zeros((h, w), np.uint8),
                shown,
            )
        scaled = np.ascontiguousarray(blocks * np.float32(self.strength))
        return scaled, self._tight, self._state


def denoised(frames: Iterable[Frame], strengths: Iterable[float]) -> Iterator[Frame]:
    """``frames`` with each strength's denoised pixels in ``Frame.fed`` (and ``Frame.held``),
    ``LOOKAHEAD - 1`` frames behind them. A frame no strength changes comes out as it came
    in (a clean clip's frames, palette indices and all), and so does a frame of ``MAX_PIXELS``
    or more: the look-ahead and the state (about 30 bytes a pixel) would break the memory
    promise of 16 bytes a pixel there."""
    denoisers = {float(s): Denoiser(float(s)) for s in strengths if s > 0}
    window: deque[Frame] = deque()
    for fr in frames:
        window.append(fr)
        del fr  # the window holds the frame; once it leaves, nothing here keeps it
        if len(window) == LOOKAHEAD:
            yield _step(window, denoisers)
            window.popleft()
    while window:
        yield _step(window, denoisers)
        window.popleft()


def _step(window: deque[Frame], denoisers: dict[float, Denoiser]) -> Frame:
    first = window[0]
    h, w = first.shape
    if not denoisers or h * w >= MAX_PIXELS:
        return first
    frames = list(window)
    if any(f.shape != first.shape for f in frames[1:]):
        frames = frames[:1]  # the size changes ahead: no look-ahead across it
    fed, held, still = {}, {}, {}
    for strength, d in denoisers.items():
        step = d.step(frames)
        if step is not None:
            fed[strength], held[strength] = step.fed, step.held
            # A bit a pixel, and every pixel's source colour packed (the painter shows a still
            # pixel as its colour's other pixels are shown).
            still[strength] = (np.packbits(step.still.reshape(-1)), step.keys)
    if not fed:
        return first
    return Frame(first.rgba, first.duration, first.opaque, fed=fed, held=held, still_held=still)
