"""Screen-fixed dithering: ordered and blue-noise patterns, and error diffusion. Pure numpy.

Ordered and blue-noise patterns are fixed in screen space, so a still area gets the same pattern
every frame and nothing crawls; error diffusion spreads error only over the pixels asked for.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from .kmeans import assign

DITHERS: tuple[str, ...] = ("none", "bayer", "blue-noise", "floyd-steinberg")


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
    values: NDArray,
    palette: NDArray,
    active: NDArray[np.bool_],
    strength: float = 1.0,
    limit: float | None = None,
) -> NDArray[np.int64]:
    """Error-diffusion dither of an image (h, w, c) onto ``palette`` (k, c).

    Only ``active`` pixels (h, w) spread and receive error; the others take the nearest entry,
    so a still area does not churn. ``limit``: the error a pixel carries is cut to this length,
    so a colour no entry brackets (a sky between two bands, far from the others) cannot build up
    error until a distant entry (the sun's) wins and leaves a speck. Runs over anti-diagonal
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
        if limit is not None:
            carried = v - values[ys, xs]
            length = np.sqrt((carried * carried).sum(1, keepdims=True))
            v = values[ys, xs] + carried * np.minimum(1.0, limit / np.maximum(length, 1e-12))
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
