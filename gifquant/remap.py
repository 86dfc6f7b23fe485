"""Pixels to palette entries, with temporal hysteresis and screen-fixed dithering. Pure numpy.

The remap step decides, for every pixel of a frame, which palette entry paints it, or whether it
keeps what is already on screen:

- **palette hysteresis** (``stable_palette``): a slot's displayed colour follows its centroid only
  once the centroid has moved more than a threshold (dE), so sub-visible drift repaints nothing;
- **stable slots** (``match_slots``): after a fresh initialisation the new centroids take the slots
  of the old ones they are closest to, so unchanged colours keep unchanged indices;
- **pixel hysteresis** (``moved_less``, ``clearly_better``): a pixel whose source hardly changed
  since it was last painted keeps its colour unless a palette entry is clearly closer;
- **dithering** (``dither_offsets``, ``floyd_steinberg``): ordered and blue-noise patterns are
  fixed in screen space, so a still area gets the same pattern every frame and nothing crawls.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .kmeans import assign

DITHERS: tuple[str, ...] = ("none", "bayer", "blue-noise", "floyd-steinberg")


def delta_e(a: NDArray, b: NDArray) -> NDArray[np.float32]:
    """CIE76 distance between Lab arrays (..., 3)."""
    d = np.asarray(a, np.float32) - np.asarray(b, np.float32)
    return np.sqrt(np.einsum("...i,...i->...", d, d))


def match_slots(old: NDArray, new: NDArray) -> NDArray[np.int64]:
    """A permutation ``p`` of the new centres such that ``new[p]`` sits slot by slot near ``old``.

    old, new : ndarray of shape (k, n_features); greedy matching on the closest pairs first.
    Returns ndarray of shape (k,), a permutation of ``range(k)``.
    """
    k = len(new)
    n_old = min(len(old), k)
    d = ((old[:n_old, None, :] - new[None, :, :]) ** 2).sum(-1)
    perm = np.full(k, -1, dtype=np.int64)
    used = np.zeros(k, dtype=bool)
    for flat in np.argsort(d, axis=None, kind="stable"):
        i, j = divmod(int(flat), k)
        if perm[i] < 0 and not used[j]:
            perm[i] = j
            used[j] = True
    rest = np.flatnonzero(~used)
    perm[perm < 0] = rest
    return perm


def stable_palette(
    displayed_lab: NDArray | None, target_lab: NDArray, threshold: float
) -> NDArray[np.bool_]:
    """Which slots repaint: those whose target colour is more than ``threshold`` dE from the
    colour now displayed (all of them when nothing is displayed yet). Shape (k,)."""
    if displayed_lab is None or len(displayed_lab) != len(target_lab):
        return np.ones(len(target_lab), dtype=bool)
    return delta_e(displayed_lab, target_lab) > threshold


def moved_less(
    source_lab: NDArray, reference_lab: NDArray, threshold: float, *, dims: int | None = None
) -> NDArray[np.bool_]:
    """Pixels whose source moved less than ``threshold`` dE since they were last painted
    (``reference_lab``): the only ones that may keep their on-screen colour. Arrays (n, c), 2-D;
    ``dims``: only the first this many columns count (the rest are padding)."""
    d = np.asarray(source_lab, np.float32) - np.asarray(reference_lab, np.float32)
    d *= d
    # Column by column, in the order einsum adds them: twice as fast on narrow rows.
    sq = d[:, 0] + d[:, 1]
    for j in range(2, d.shape[1] if dims is None else dims):
        sq += d[:, j]
    return sq < np.float32(threshold) ** 2


def clearly_better(
    source_lab: NDArray, screen_lab: NDArray, candidate_lab: NDArray, threshold: float
) -> NDArray[np.bool_]:
    """Pixels for which the best palette entry (``candidate_lab``) is clearly closer to the
    source than the colour on screen: by at least ``threshold`` dE and a quarter of the
    screen's own error (where errors are large, as with few colours, a small gain is not
    worth a change). Arrays (n, c)."""
    on_screen = delta_e(source_lab, screen_lab)
    margin = on_screen - delta_e(source_lab, candidate_lab)
    return margin >= np.maximum(threshold, on_screen / 4)


@lru_cache(maxsize=4)
def bayer_matrix(n: int = 8) -> NDArray[np.float32]:
    """Ordered-dither thresholds of shape (n, n), n a power of two, values in (-0.5, 0.5)."""
    m = np.zeros((1, 1), dtype=np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / m.size - 0.5).astype(np.float32)


@lru_cache(maxsize=2)
def blue_noise(n: int = 64, seed: int = 7) -> NDArray[np.float32]:
    """A tileable blue-noise threshold map of shape (n, n), values in (-0.5, 0.5).

    White noise made high-pass by repeatedly subtracting a wrapped Gaussian blur (in the Fourier
    domain), then rank-transformed to a uniform distribution.
    """
    rng = np.random.default_rng(seed)
    noise = rng.random((n, n))
    f = np.fft.fftfreq(n)
    r2 = f[:, None] ** 2 + f[None, :] ** 2
    low = np.exp(-r2 / (2 * 0.08**2))
    for _ in range(4):
        noise = noise - np.real(np.fft.ifft2(np.fft.fft2(noise) * low))
        ranks = np.argsort(np.argsort(noise, axis=None)).reshape(n, n)
        noise = ranks / ranks.size
    return (noise + 0.5 / noise.size - 0.5).astype(np.float32)


def dither_offsets(kind: str, height: int, width: int) -> NDArray[np.float32] | None:
    """Screen-fixed threshold map (height, width) in (-0.5, 0.5) for an ordered ``kind``."""
    if kind == "bayer":
        tile = bayer_matrix(8)
    elif kind == "blue-noise":
        tile = blue_noise(64)
    else:
        return None
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]))
    return np.tile(tile, reps)[:height, :width]


def floyd_steinberg(
    values: NDArray, palette: NDArray, active: NDArray[np.bool_], strength: float = 1.0
) -> NDArray[np.int64]:
    """Error-diffusion dither of an image (h, w, c) onto ``palette`` (k, c).

    Only ``active`` pixels (h, w) spread and receive error; the others take the nearest entry,
    so a still area does not churn. Runs over anti-diagonal
    wavefronts (pixel (y, x) at step x + 2y), whose pixels are independent, so each step is one
    vectorised operation: O(w + 2h) numpy calls, no loop over pixels.
    """
    h, w, c = values.shape
    work = values.astype(np.float32).copy()
    out = np.empty((h, w), dtype=np.int64)
    pal = palette.astype(np.float32)
    ys_all = np.arange(h)
    for t in range(w + 2 * (h - 1)):
        ys = ys_all[(t - 2 * ys_all >= 0) & (t - 2 * ys_all < w)]
        xs = t - 2 * ys
        v = work[ys, xs]
        idx, _ = assign(v, pal, "euclidean")
        out[ys, xs] = idx
        err = (v - pal[idx]) * strength
        err[~active[ys, xs]] = 0
        for dy, dx, wt in ((0, 1, 7 / 16), (1, -1, 3 / 16), (1, 0, 5 / 16), (1, 1, 1 / 16)):
            yy, xx = ys + dy, xs + dx
            ok = (yy < h) & (xx >= 0) & (xx < w)
            ok[ok] &= active[yy[ok], xx[ok]]  # still pixels neither spread nor receive error
            work[yy[ok], xx[ok]] += err[ok] * wt
    return out
