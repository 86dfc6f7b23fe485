"""Palette transfer: a clip's colours moved onto another clip's palette. Pure numpy.

A shot's colours are clustered in CIELAB into as many clusters as the target palette has colours:
anchors, each with its share of the pixels. The anchors are matched one to one with the target's
colours by a minimum-cost assignment on lightness and share (``match_palettes``): dark goes to
dark, and the colour covering most of the picture to one covering much of the other. Every colour
then moves by its nearest anchor's vector to the matched target colour, so the shading inside a
cluster survives.

The map is held for the shot, so a pixel that does not change does not change in the output, and
fades and flashes come through. It is made afresh at a scene cut, and re-fitted from its own
anchors (keeping each anchor's match) when the picture has drifted far from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.typing import NDArray

from ._colour import lab_to_rgb, rgb_to_lab
from ._distinct import _EXACT_FIT_LIMIT, colour_histogram, distinct_colours, scene_histogram
from ._frames import Frame
from ._kmeans import assign, distances, kmeans

# A re-fit when the picture's RMS distance to its nearest anchors is more than twice what it was
# when they were set, and more than this many dE over it: the anchors no longer describe it.
_DRIFT_DE = 6.0
# How far a colour's weight shades from its own anchor's vector to the next anchor's: a share
# of the typical gap between neighbouring anchors.
_SOFTNESS = 0.5
# Colours converted at a time (lab_to_rgb's float64 temporaries of every colour at once are large).
_CHUNK = 1 << 16


def match_palettes(
    lab: NDArray, shares: NDArray, target_lab: NDArray, target_shares: NDArray
) -> NDArray[np.int64]:
    """The target colour each source colour goes to: one to one, at the least total cost
    ``(dL / 100)^2 + (share - target share)^2``.

    lab : (n, 3) CIELAB, shares : (n,); target_lab : (m, 3), target_shares : (m,), n <= m.
    Returns (n,) distinct indices into the target.
    """
    dl = (lab[:, None, 0] - target_lab[None, :, 0]) / 100.0
    ds = shares[:, None] - target_shares[None, :]
    return min_cost_matching(dl * dl + ds * ds)


def min_cost_matching(cost: NDArray) -> NDArray[np.int64]:
    """A minimum-cost assignment of the rows of ``cost`` (n, m), n <= m, to distinct columns
    (the Hungarian method by shortest augmenting paths, O(n^2 m), one row per step).

    >>> min_cost_matching(np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0]])).tolist()
    [1, 0]
    """
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n > m:
        raise ValueError(f"cost: more rows than columns ({n} > {m})")
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    row_of = np.zeros(m + 1, np.int64)  # 1-based row matched to column j (0: none); j = 0 spare
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        row_of[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            free = ~used
            free[0] = False
            i0 = row_of[j0]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv, np.inf)
            j1 = int(np.argmin(candidates))
            delta = candidates[j1]
            u[row_of[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if row_of[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = way[j0]
            row_of[j0] = row_of[j1]
            j0 = j1
    match = np.empty(n, np.int64)
    cols = np.flatnonzero(row_of[1:])
    match[row_of[1:][cols] - 1] = cols
    return match


class PaletteTransfer:
    """Recolours frames, one after another, onto a target palette (see the module's notes).

    colours : (m, 3) uint8 sRGB, the target palette; shares : (m,) its shares of the pixels
    (None: equal); alpha_threshold : pixels under it are left as they are (transparent);
    scene_threshold : as ``QuantizeOptions.scene_threshold`` (None: one map for the clip);
    seed : the clustering's random seed.
    """

    def __init__(
        self,
        colours: NDArray,
        shares: NDArray | None = None,
        *,
        alpha_threshold: int = 128,
        scene_threshold: float | None = 0.5,
        seed: int = 0,
    ) -> None:
        colours = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
        if not len(colours):
            raise ValueError("transfer: the target palette has no colours")
        if shares is None:
            shares = np.full(len(colours), 1.0 / len(colours))
        shares = np.asarray(shares, dtype=np.float64)
        if shares.shape != (len(colours),) or not (shares >= 0).all() or shares.sum() <= 0:
            raise ValueError("transfer: shares must be one number >= 0 per colour")
        self._target = rgb_to_lab(colours).astype(np.float64)
        self._target_shares = shares / shares.sum()
        self._alpha_threshold = alpha_threshold
        self._scene_threshold = scene_threshold
        self._seed = seed
        self._anchors: NDArray[np.float64] | None = None
        self._match: NDArray[np.int64] | None = None
        self._vectors: NDArray[np.float64] | None = None
        self._rms = 0.0  # RMS dE of the picture to its anchors when they were set
        self._hist: NDArray[np.float64] | None = None
        self._n = 0

    def recolour(self, rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The (height, width, 4) uint8 frame ``rgba`` moved onto the target palette (a new
        array; alpha kept)."""
        src = distinct_colours(rgba, self._alpha_threshold)
        self._n += 1
        if not len(src.colours):
            return rgba.copy()
        lab = rgb_to_lab(src.colours)
        weights = src.counts.astype(np.float64)
        hist = scene_histogram(src.colours, weights)
        cut = (
            self._hist is not None
            and self._scene_threshold is not None
            and 0.5 * float(np.abs(hist - self._hist).sum()) > self._scene_threshold
        )
        self._hist = hist
        if self._anchors is None or cut:
            self._fit(src.colours, weights, init=None)
        _, dist = assign(lab, self._anchors, "euclidean")
        rms = float(np.sqrt(np.einsum("i,i->", weights, dist) / weights.sum()))
        del dist
        if rms > max(2 * self._rms, self._rms + _DRIFT_DE):
            self._fit(src.colours, weights, init=self._anchors)
        moved = np.empty(src.colours.shape, np.uint8)
        for start in range(0, len(lab), _CHUNK):
            part = lab[start : start + _CHUNK].astype(np.float64)
            out = part + self._blend(part) @ self._vectors
            moved[start : start + _CHUNK] = np.clip(np.rint(lab_to_rgb(out)), 0, 255)
        out = rgba.copy()
        if src.all_opaque:
            out.reshape(-1, 4)[:, :3] = moved[src.inverse]
        else:
            out[src.opaque, :3] = moved[src.inverse]
        return out

    def _blend(self, lab: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each colour's weight (n, k) on each anchor's vector, summing to 1: nearly all on its
        nearest anchor, shading off towards the next one across a cluster's border, so that
        colours either side of it do not jump apart."""
        d = distances(lab, self._anchors, "euclidean")
        d -= d.min(1, keepdims=True)
        w = np.exp(-d / (2 * self._softness**2))
        w /= w.sum(1, keepdims=True)
        return w

    def _fit(self, colours: NDArray[np.uint8], weights: NDArray, init: NDArray | None) -> None:
        """Cluster a frame's colours into anchors; match them (``init``: re-fit from these
        anchors, each keeping its match)."""
        if len(colours) > _EXACT_FIT_LIMIT:
            colours_f, weights = colour_histogram(colours, weights, 5)
            x = rgb_to_lab(colours_f).astype(np.float64)
        else:
            x = rgb_to_lab(colours).astype(np.float64)
        k = min(len(self._target), len(x))
        if init is not None and len(init) == k:
            res = kmeans(x, k, weights=weights, init=init)
        else:
            rng = np.random.default_rng([self._seed, self._n])
            res = kmeans(x, k, weights=weights, n_init=3, rng=rng)
            init = None
        shares = np.bincount(res.labels, weights=weights, minlength=k) / weights.sum()
        if init is None or self._match is None:
            self._match = match_palettes(res.centers, shares, self._target, self._target_shares)
        self._anchors = res.centers
        self._vectors = self._target[self._match] - res.centers
        self._rms = float(np.sqrt(res.inertia / weights.sum()))
        gaps = np.sqrt(distances(res.centers, res.centers, "euclidean"))
        np.fill_diagonal(gaps, np.inf)
        nearest_gap = gaps.min(1) if k > 1 else np.array([100.0])
        self._softness = max(1.0, _SOFTNESS * float(np.median(nearest_gap)))


def recoloured(frames: Iterable[Frame], transfer: PaletteTransfer) -> Iterator[Frame]:
    """``frames`` with each one's colours moved by ``transfer``, in order."""
    for fr in frames:
        yield Frame(transfer.recolour(fr.rgba), fr.duration, fr.opaque)
