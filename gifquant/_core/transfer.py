"""Palette transfer: a clip's colours moved onto another clip's palette. Pure numpy.

It works on the quantizer's palette, not on pixels: at the start of a shot the frame's palette
entries, weighted by their pixels, are clustered in CIELAB into a few anchors (``n_anchors``), each
with its share of the picture. The anchors are matched one to one with the target palette's
colours by a minimum-cost assignment on lightness and share (``match_palettes``): dark goes to
dark, and the colour covering most of the picture to one covering much of the other. Each entry
then shows its colour moved by its anchor's vector to the matched target colour, the vectors
blended smoothly across the gap between anchors: the shading inside a cluster survives as
the entries' offsets from their anchor.

The map stretches the clip's colour differences by ``MAX_STRETCH`` (1.5) at most: where two
matched targets lie farther apart than that allows (a grey clip onto a vivid palette: the
targets are 2.6 times as far apart as the anchors on newtonscradle onto
``samples/sunset.png``), the two are pulled together along the line between them, the one with
the smaller share of the picture moving more, so the colours go towards their targets as far as
the limit allows. Reaching every target exactly stretched the small steps between neighbouring
palette entries, so that a pixel flipping between two of them jumped (flicker 3.6 times the
untransferred clip's on newtonscradle, high-contrast streaks in people-detection's wood floor).
A limit of 1 (no stretch at all) leaves little but a colour cast: two anchors moved by different
vectors almost always move apart.

The map is held for the shot, so an entry that does not change shows the same colour: the
transfer adds no flicker to the seeded quantizer's, and fades and flashes come through. It is made
afresh at a scene cut, and re-fitted from its own anchors (each keeping its match) when the
palette has drifted far from them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .colour import lab_to_rgb, rgb_to_lab
from .kmeans import distances, kmeans

# A re-fit when the palette's RMS distance to its nearest anchors is more than twice what it was
# when they were set, and more than this many dE over it: the anchors no longer describe it.
_DRIFT_DE = 6.0
# How far a colour's weight shades from its own anchor's vector to the next anchor's: a share
# of the typical gap between neighbouring anchors (wide enough that the change is spread across
# the gap, not packed near the border; 0.4 packed it).
_SOFTNESS = 0.6
# The most the map stretches the distance between two anchors (see the module's notes).
MAX_STRETCH = 1.5
# Sweeps over the anchor pairs that bring the targets within ``MAX_STRETCH`` (8 anchors: 28 pairs).
_SWEEPS = 100


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


class PaletteMap:
    """Maps each frame's palette onto a target palette (see the module's notes).

    colours : (m, 3) uint8 sRGB, the target palette; shares : (m,) its shares of the pixels
    (None: equal); n_anchors : clusters a shot's palette is matched in; seed : the clustering's.
    """

    def __init__(
        self, colours: NDArray, shares: NDArray | None = None, *, n_anchors: int = 8, seed: int = 0
    ) -> None:
        colours = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
        shares = np.full(len(colours), 1.0) if shares is None else np.asarray(shares, float)
        self._target = rgb_to_lab(colours).astype(np.float64)
        self._target_shares = shares / shares.sum()
        self._n_anchors = n_anchors
        self._seed = seed
        self._anchors: NDArray[np.float64] | None = None
        self._match: NDArray[np.int64] | None = None
        self._vectors: NDArray[np.float64] | None = None
        self._softness = 1.0
        self._rms = 0.0  # RMS dE of the palette to its anchors when they were set
        self._n = 0

    def apply(self, palette: NDArray[np.uint8], counts: NDArray, cut: bool) -> NDArray[np.uint8]:
        """The colours (k, 3) uint8 that a frame's palette (k, 3) uint8 shows, given each
        entry's pixels ``counts`` (k,) and whether the frame is a scene cut."""
        self._n += 1
        lab = rgb_to_lab(palette).astype(np.float64)
        w = np.asarray(counts, np.float64)
        if not w.sum() > 0:
            w = np.ones(len(lab))
        if self._anchors is None or cut:
            self._fit(lab, w, init=None)
        else:
            near = distances(lab, self._anchors, "euclidean").min(1)
            rms = float(np.sqrt(np.einsum("i,i->", w, near) / w.sum()))
            if rms > max(2 * self._rms, self._rms + _DRIFT_DE):
                self._fit(lab, w, init=self._anchors)
        moved = lab + self._blend(lab) @ self._vectors
        return np.clip(np.rint(lab_to_rgb(moved)), 0, 255).astype(np.uint8)

    def _blend(self, lab: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each colour's weight (n, a) on each anchor's vector, summing to 1: nearly all on its
        nearest anchor, shading off towards the next one across a cluster's border, so that
        colours either side of it do not jump apart."""
        d = distances(lab, self._anchors, "euclidean")
        d -= d.min(1, keepdims=True)
        w = np.exp(-d / (2 * self._softness**2))
        w /= w.sum(1, keepdims=True)
        return w

    def _fit(self, lab: NDArray[np.float64], w: NDArray[np.float64], init: NDArray | None) -> None:
        """Cluster a palette into anchors and match them (``init``: re-fit from these anchors,
        each keeping its match)."""
        keep = w > 0
        x, w = lab[keep], w[keep]
        n = min(self._n_anchors, len(self._target), len(np.unique(x, axis=0)))
        if init is not None and len(init) == n:
            res = kmeans(x, n, weights=w, init=init)
        else:
            rng = np.random.default_rng([self._seed, self._n])
            res = kmeans(x, n, weights=w, n_init=3, rng=rng)
            init = None
        shares = np.bincount(res.labels, weights=w, minlength=n) / w.sum()
        if init is None or self._match is None:
            self._match = match_palettes(res.centers, shares, self._target, self._target_shares)
        self._anchors = res.centers
        self._vectors = _stretch_limited(res.centers, self._target[self._match], shares)
        self._rms = float(np.sqrt(res.inertia / w.sum()))
        gaps = np.sqrt(distances(res.centers, res.centers, "euclidean"))
        np.fill_diagonal(gaps, np.inf)
        spacing = float(np.median(gaps.min(1))) if n > 1 else 100.0
        self._softness = max(1.0, _SOFTNESS * spacing)


def _stretch_limited(
    anchors: NDArray[np.float64], targets: NDArray[np.float64], shares: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each anchor's vector (a, 3) to where it goes: its target, or as near it as keeps every two
    anchors within ``MAX_STRETCH`` times their distance. A pair too far apart is pulled
    together along the line between them, the anchor with the smaller share moving more;
    sweeps over the pairs repeat until none is (a fixed number at most)."""
    goes = targets.copy()
    limit = MAX_STRETCH * np.sqrt(distances(anchors, anchors, "euclidean"))
    w = shares + 1e-9
    i, j = np.triu_indices(len(anchors), 1)
    for _ in range(_SWEEPS):
        moved = False
        for a, b in zip(i.tolist(), j.tolist(), strict=True):
            step = goes[a] - goes[b]
            apart = float(np.sqrt(step @ step))
            excess = apart - limit[a, b]
            if excess > 1e-6:
                step *= excess / apart
                goes[a] -= step * (w[b] / (w[a] + w[b]))
                goes[b] += step * (w[a] / (w[a] + w[b]))
                moved = True
        if not moved:
            break
    return goes - anchors
