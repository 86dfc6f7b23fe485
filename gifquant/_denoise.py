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

import numpy as np
from numpy.typing import NDArray

from ._frames import Frame
from ._kernels import block_noise_sums, denoise_step

BLOCK = 16  # pixels a side of the blocks the noise is measured in
LOOKAHEAD = 4  # frames seen at once: the current one and three ahead
FLOOR = 1.0  # levels: the least noise a noisy clip's block is taken to have
PERSIST = 3.0  # levels: a steady shift smaller than this is followed, not restarted on
SHOWN_MIN, SHOWN_MAX = 2.5, 4.0  # levels: the shown value's hysteresis (sigma, clipped)
MEMORY = 64  # frames: the running mean's longest memory, so it follows a slow drift
CAP = 16.0  # levels: a second difference beyond this is motion, not noise
SMALL = 8.0  # levels: second differences up to this are what noise looks like
NOISY = 0.01  # a clip is noisy when this share of a frame's pixels blip by 1 to SMALL levels
_HISTORY = 7  # frames of measurements the noise estimate is the median of
_NOISE_PER_BLIP = 4.5  # white noise of sigma s gives E|lap|^2 = 4.5 s^2 over three channels


def block_noise(
    prev: NDArray[np.uint8], cur: NDArray[np.uint8], nxt: NDArray[np.uint8]
) -> tuple[NDArray[np.float32], float]:
    """Each 16x16 block's noise sigma (levels), shape (ceil(h/16), ceil(w/16)), and the share of
    the frame's pixels that blip, from three consecutive (h, w, >=3) uint8 frames.

    A pixel blips when its second difference is at least one level long (capped at ``CAP``).
    Codec noise is sparse (most pixels exactly still, some off by a level or two for a frame),
    sensor noise dense; what a held pixel must absorb is the size of the blips that do occur,
    so a block's sigma is the RMS of its blips over sqrt(4.5) (0 where none blip).
    """
    e2_sum, n_blip, n_small = block_noise_sums(prev, cur, nxt, BLOCK, CAP, SMALL)
    sigma = np.sqrt(e2_sum / np.maximum(n_blip, 1) / _NOISE_PER_BLIP).astype(np.float32)
    h, w = cur.shape[:2]
    return sigma, float(n_small) / (h * w)


def block_noise_reference(
    prev: NDArray[np.uint8], cur: NDArray[np.uint8], nxt: NDArray[np.uint8]
) -> tuple[NDArray[np.float64], NDArray[np.int64], int]:
    """``_kernels.block_noise_sums`` in numpy: per block the sum of the blips' squared second
    differences and their count, and the frame's count of small blips."""
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
    return sums(np.where(blip, e2, 0.0)), sums(blip.astype(np.int64)), small


def step_reference(
    window: list[NDArray[np.uint8]],
    sigma: NDArray[np.float64],
    mean: NDArray[np.float32],
    count: NDArray[np.uint8],
    shown: NDArray[np.uint8],
) -> int:
    """``_kernels.denoise_step`` in numpy: one frame's step on the state (``mean`` (h, w, 3)
    float32, ``count`` (h, w) uint8, ``shown`` (h, w, 3) uint8, updated in place), ``sigma``
    (h, w) the pixels' noise times the strength; returns the pixels held (``shown`` not the
    source)."""
    x = window[0][..., :3].astype(np.float64)
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
    with np.errstate(divide="ignore"):
        threshold = np.maximum(16 * s2 * (1.0 / run_n + 1.0 / n), PERSIST * PERSIST)
    restart = (count == 0) | (dr > threshold)
    n_new = np.where(restart, 1.0, np.minimum(n + 1, MEMORY))
    m_new = np.where(restart[..., None], x, m + (x - m) * (1.0 / n_new)[..., None])
    m_new = m_new.astype(np.float32)
    m64 = m_new.astype(np.float64)
    est = np.where(
        restart[..., None],
        run,
        (m64 * n_new[..., None] + run * run_n[..., None]) * (1.0 / (n_new + run_n))[..., None],
    )
    q = np.clip(sigma, SHOWN_MIN, SHOWN_MAX)
    move = ((est - shown) ** 2).sum(2) > q * q
    shown[move] = np.clip(np.floor(est[move] + 0.5), 0, 255).astype(np.uint8)
    mean[...] = m_new
    count[...] = n_new.astype(np.uint8)
    return int(np.count_nonzero((shown != window[0][..., :3]).any(2)))


class Denoiser:
    """A clip's denoising state (frames (h, w, 3 or 4) uint8; a new size starts afresh).

    ``step(window)`` takes the current frame and up to ``LOOKAHEAD - 1`` frames after it (fewer
    at the clip's end) and returns the (h, w, 3) uint8 pixels to quantize, or None when the
    frame is to be quantized as it is (the clip shows no noise), and how many pixels are held.
    About 16 bytes a pixel of state.
    """

    def __init__(self, strength: float = 1.0) -> None:
        if not strength > 0:
            raise ValueError(f"strength must be more than 0, not {strength}")
        self.strength = float(strength)
        self.sigma = 0.0  # the latest frame's typical noise (levels), for reports
        self._prev: NDArray[np.uint8] | None = None
        self._history: list[tuple[NDArray[np.float32], float]] = []
        self._state: tuple[NDArray, NDArray, NDArray] | None = None

    def _noise(self, window: list[NDArray[np.uint8]]) -> NDArray[np.float32] | None:
        """Per-block noise sigma of the current frame (None: no noise), from recent frames."""
        cur = window[0]
        prev = self._prev if self._prev is not None else (window[2] if len(window) > 2 else None)
        if prev is not None and len(window) > 1 and prev.shape == cur.shape:
            self._history.append(block_noise(prev, cur, window[1]))
            del self._history[:-_HISTORY]
        if not self._history or np.median([s for _, s in self._history]) < NOISY:
            self.sigma = 0.0
            return None
        sigma = np.median(np.stack([b for b, _ in self._history]), axis=0)
        measured = sigma[sigma > 0]
        # A block crossed by motion measures high; noise is about even over a frame, so no
        # block is taken as noisier than 1.5 times the typical one.
        typical = max(FLOOR, float(np.median(measured))) if measured.size else FLOOR
        self.sigma = typical
        return np.clip(sigma, FLOOR, 1.5 * typical).astype(np.float32)

    def step(self, window: list[NDArray[np.uint8]]) -> tuple[NDArray[np.uint8] | None, int]:
        state = self._begin(window)
        if state is None:
            return None, 0
        blocks, (mean, count, shown) = state
        held = denoise_step(window, blocks, BLOCK, mean, count, shown)
        return shown.copy(), held

    def step_reference(self, window: list[NDArray[np.uint8]]) -> tuple[NDArray | None, int]:
        """``step`` through the numpy reference (the tests' oracle)."""
        state = self._begin(window)
        if state is None:
            return None, 0
        blocks, (mean, count, shown) = state
        h, w = window[0].shape[:2]
        sigma = np.repeat(np.repeat(blocks.astype(np.float64), BLOCK, 0), BLOCK, 1)[:h, :w]
        held = step_reference(window, sigma, mean, count, shown)
        return shown.copy(), held

    def _begin(self, window: list[NDArray[np.uint8]]):
        """The frame's per-block sigma times the strength and the state to step, or None when
        the clip shows no noise (then the state is dropped: it starts afresh with noise)."""
        cur = window[0]
        h, w = cur.shape[:2]
        if self._prev is not None and self._prev.shape != cur.shape:
            self._history.clear()
            self._state = None
        blocks = self._noise(window)
        self._prev = cur
        if blocks is None:
            self._state = None
            return None
        if self._state is None:
            self._state = (
                np.zeros((h, w, 3), np.float32),
                np.zeros((h, w), np.uint8),
                np.ascontiguousarray(cur[..., :3]),
            )
        return np.ascontiguousarray(blocks * np.float32(self.strength)), self._state


def denoised(frames: Iterable[Frame], strengths: Iterable[float]) -> Iterator[Frame]:
    """``frames`` with each strength's denoised pixels in ``Frame.fed`` (and ``Frame.held``),
    ``LOOKAHEAD - 1`` frames behind them. A frame no strength changes comes out as it came
    in (a clean clip's frames, palette indices and all)."""
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
    if not denoisers:
        return first
    pixels = [f.rgba for f in window]
    if any(p.shape != pixels[0].shape for p in pixels[1:]):
        pixels = pixels[:1]  # the size changes ahead: no look-ahead across it
    fed, held = {}, {}
    for strength, d in denoisers.items():
        out, n = d.step(pixels)
        if out is not None:
            rgba = np.empty(pixels[0].shape[:2] + (4,), np.uint8)
            rgba[..., :3] = out
            rgba[..., 3] = pixels[0][..., 3]
            fed[strength], held[strength] = rgba, n
    if not fed:
        return first
    return Frame(pixels[0], first.duration, first.opaque, fed=fed, held=held)
