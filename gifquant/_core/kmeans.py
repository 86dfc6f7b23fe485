"""Weighted k-means (L2, means) and k-medians (L1, per-channel weighted medians).

The points are the colours of one frame's histogram, each with a weight (its pixel count), so one
iteration costs O(n_colours * k) instead of O(n_pixels * k). Pure numpy: no I/O, no printing.

``kmeans`` checks its arguments and calls ``_lloyd``, which assumes valid input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Metric = Literal["euclidean", "manhattan"]
Init = Literal["kmeans++", "random", "farthest"]
METRICS: tuple[str, ...] = ("euclidean", "manhattan")
INITS: tuple[str, ...] = ("kmeans++", "random", "farthest")

# Entries of one (rows, k) distance block. Small enough to stay in cache, and to keep each matrix
# product under OpenBLAS's threading threshold: its threads cost 5-15x more CPU than they save on
# these skinny products, and far more when the machine is busy.
_BLOCK_ENTRIES = 1 << 15


def _block_rows(k: int) -> int:
    return max(256, _BLOCK_ENTRIES // max(k, 1))


def _wsum(w: NDArray, d: NDArray) -> float:
    """``w @ d`` without BLAS: OpenBLAS threads its dot product above 10k points, at a cost."""
    return float(np.einsum("i,i->", w, d))


@dataclass(frozen=True)
class KMeansResult:
    """Centres, labels and inertia returned together.

    centers : ndarray of shape (n_clusters, n_features), float64
    labels : ndarray of shape (n_samples,), int64, each < n_clusters
    inertia : weighted sum of squared L2 distances (euclidean) or of L1 distances (manhattan)
    n_iter : Lloyd iterations run
    inertia_history : inertia after each assignment step, non-increasing
    """

    centers: NDArray[np.float64]
    labels: NDArray[np.int64]
    inertia: float
    n_iter: int
    inertia_history: tuple[float, ...]


def distances(x: NDArray, centers: NDArray, metric: Metric) -> NDArray[np.float64]:
    """Distances from each point to each centre: shape (n_samples, n_clusters).

    Squared L2 for ``euclidean`` (what k-means minimises), L1 for ``manhattan``.
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.asarray(centers, dtype=np.float64)
    if metric == "euclidean":
        d = np.empty((len(x), len(c)))
        rows = _block_rows(len(c))
        for start in range(0, len(x), rows):
            np.matmul(x[start : start + rows], c.T, out=d[start : start + rows])
        d *= -2.0
        d += (x * x).sum(1)[:, None]
        d += (c * c).sum(1)[None, :]
        return np.maximum(d, 0.0, out=d)
    out = np.abs(x[:, None, 0] - c[None, :, 0])
    buf = np.empty_like(out)
    for ch in range(1, x.shape[1]):
        np.subtract(x[:, None, ch], c[None, :, ch], out=buf)
        out += np.abs(buf, out=buf)
    return out


def assign(
    x: NDArray, centers: NDArray, metric: Metric
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest centre of each point and the distance to it (squared for euclidean), blockwise.

    Returns labels (n_samples,) int64 and distances (n_samples,) float64; the distance is
    recomputed directly from the point and its centre, so it is exact (0 for a point on a centre).
    """
    x = np.asarray(x)  # float32 points are widened a chunk at a time
    labels = nearest(x, centers, metric)
    c = np.asarray(centers, dtype=np.float64)
    parts = _chunks(len(x), _block_rows(len(c)))
    if len(parts) == 1:
        return labels, _distance_to(x, c[labels], metric)
    dist = np.empty(len(x))
    for part in parts:
        dist[part] = _distance_to(x[part], c[labels[part]], metric)
    return labels, dist


def _distance_to(x: NDArray, c: NDArray[np.float64], metric: Metric) -> NDArray[np.float64]:
    """Distance (n,) float64 of each point of ``x`` (n, n_features) to the same row of ``c``,
    squared for euclidean."""
    diff = x - c  # float64, as ``c`` is
    if metric == "euclidean":
        return np.einsum("ij,ij->i", diff, diff)
    return np.abs(diff, out=diff).sum(1)


# Points handled at a time by ``assign`` and ``nearest`` (about): their float64 temporaries of
# every point at once would cost ~100 bytes a point on a frame of millions of colours.
_CHUNK_POINTS = 1 << 16


def _chunks(n: int, rows: int) -> list[slice]:
    """Slices covering ``range(n)`` in whole blocks of ``rows`` (so a blockwise product runs on
    the very same blocks, chunked or not)."""
    step = rows * max(1, _CHUNK_POINTS // rows)
    return [slice(start, start + step) for start in range(0, n, step)] or [slice(0, 0)]


def nearest(x: NDArray, centers: NDArray, metric: Metric) -> NDArray[np.int64]:
    """Nearest centre of each point (``assign`` without the distances), blockwise."""
    x = np.asarray(x)  # float32 points are widened a chunk at a time
    c = np.asarray(centers, dtype=np.float64)
    n = len(x)
    rows = _block_rows(len(c))
    if metric == "euclidean":
        # argmin |x - c|^2 = argmin (|c|^2 - 2 x.c): with a column of ones on x and |c|^2 as a
        # row under -2c, one matrix product per block gives it, with no pass to add |c|^2.
        ca = np.empty((x.shape[1] + 1, len(c)))
        ca[:-1] = -2.0 * c.T
        ca[-1] = (c * c).sum(1)
        if 0 < n <= rows:  # one block (a frame's few hundred colours): the same product, at once
            return (_with_ones(x) @ ca).argmin(1)
        labels = np.empty(n, dtype=np.int64)
        for part in _chunks(n, rows):
            xa = _with_ones(x[part])
            for start in range(0, len(xa), rows):
                block = (xa[start : start + rows] @ ca).argmin(1)
                labels[part.start + start : part.start + start + len(block)] = block
        return labels
    labels = np.empty(n, dtype=np.int64)
    acc = np.empty((min(rows, n), len(c)))
    buf = np.empty_like(acc)
    for start in range(0, n, rows):
        xb = np.asarray(x[start : start + rows], dtype=np.float64)
        a, b = acc[: len(xb)], buf[: len(xb)]
        np.subtract(xb[:, 0:1], c[:, 0], out=a)
        np.abs(a, out=a)
        for ch in range(1, x.shape[1]):
            np.subtract(xb[:, ch : ch + 1], c[:, ch], out=b)
            a += np.abs(b, out=b)
        labels[start : start + rows] = a.argmin(1)
    return labels


def _with_ones(x: NDArray) -> NDArray[np.float64]:
    """Points (n, n_features) widened to float64 with a column of ones after them."""
    xa = np.empty((len(x), x.shape[1] + 1))
    xa[:, :-1] = x
    xa[:, -1] = 1.0
    return xa


def weighted_medians(
    x: NDArray, w: NDArray, labels: NDArray, k: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Per-channel weighted median of each cluster: (centres (k, n_features), mask (k,))."""
    totals = np.bincount(labels, weights=w, minlength=k)
    present = totals > 0
    out = np.zeros((k, x.shape[1]), dtype=np.float64)
    ids = np.flatnonzero(present)
    before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    counts = np.bincount(labels, minlength=k)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for ch in range(x.shape[1]):
        order = np.lexsort((x[:, ch], labels))
        cw = np.cumsum(w[order])
        # The median of cluster j is the first value whose cumulative weight reaches half its total.
        pos = np.searchsorted(cw, before[ids] + totals[ids] / 2.0, side="left")
        pos = np.clip(pos, first[ids], first[ids] + counts[ids] - 1)
        out[ids, ch] = x[order[pos], ch]
    return out, present


def _update(
    x: NDArray, w: NDArray, labels: NDArray, centers: NDArray, metric: Metric
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    k = len(centers)
    if metric == "manhattan":
        new, present = weighted_medians(x, w, labels, k)
    else:
        totals = np.bincount(labels, weights=w, minlength=k)
        present = totals > 0
        new = np.empty_like(centers)
        for ch in range(x.shape[1]):
            new[:, ch] = np.bincount(labels, weights=w * x[:, ch], minlength=k)
        np.divide(new, totals[:, None], out=new, where=present[:, None])
    if not present.all():
        new[~present] = centers[~present]
    return new, present


def _reseed_empty(
    x: NDArray, w: NDArray, centers: NDArray, empty: NDArray, dist: NDArray
) -> NDArray[np.float64]:
    """Move each empty centre onto one of the worst-served points (largest weighted distance)."""
    worst = np.argsort(-(w * dist), kind="stable")
    taken = {tuple(c) for c in centers[~empty]}
    ids = np.flatnonzero(empty)
    j = 0
    for idx in worst:
        if j == len(ids):
            break
        p = tuple(x[idx])
        if p in taken:
            continue
        centers[ids[j]] = x[idx]
        taken.add(p)
        j += 1
    return centers


def _lloyd(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    centers: NDArray[np.float64],
    *,
    metric: Metric,
    max_iter: int,
    tol: float,
) -> KMeansResult:
    """Lloyd iterations from ``centers``; input assumed valid (see ``kmeans``)."""
    centers = centers.copy()
    labels, dist = assign(x, centers, metric)
    history = [_wsum(w, dist)]
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        new, present = _update(x, w, labels, centers, metric)
        if not present.all():
            new = _reseed_empty(x, w, new, ~present, dist)
        shift = np.abs(new - centers).max()
        centers = new
        labels, dist = assign(x, centers, metric)
        history.append(_wsum(w, dist))
        if shift <= tol:
            break
    return KMeansResult(centers, labels, history[-1], n_iter, tuple(history))


def init_centers(
    x: NDArray,
    w: NDArray,
    k: int,
    *,
    method: Init,
    metric: Metric,
    rng: np.random.Generator,
    deterministic_first: bool = False,
) -> NDArray[np.float64]:
    """Choose ``k`` starting centres among the points ``x`` (n_samples >= k, weights ``w`` > 0)."""
    x = np.asarray(x, dtype=np.float64)
    p = w / w.sum()
    n = len(x)
    if method == "random":
        return x[rng.choice(n, size=k, replace=False, p=p)].copy()
    first = int(np.argmax(w)) if deterministic_first else int(rng.choice(n, p=p))
    centers = np.empty((k, x.shape[1]), dtype=np.float64)
    centers[0] = x[first]
    closest = distances(x, centers[:1], metric)[:, 0]
    trials = 2 + int(math.log(k)) if method == "kmeans++" else 1
    if method == "kmeans++" and metric == "euclidean":
        return _kmeanspp_euclidean(
            x, np.asarray(w, dtype=np.float64), centers, closest, trials, rng
        )
    for i in range(1, k):
        if method == "farthest":
            best = int(np.argmax(closest))
            centers[i] = x[best]
            closest = np.minimum(closest, distances(x, centers[i : i + 1], metric)[:, 0])
            continue
        cand = _candidates(w, closest, trials, rng)
        if cand is None:  # every point already coincides with a centre
            centers[i] = x[i % len(x)]
            continue
        c = x[cand]
        d = np.minimum(distances(x, c, metric), closest[:, None]).T
        best = int(np.argmin(d @ w))
        closest = d[best]
        centers[i] = c[best]
    return centers


def _candidates(
    w: NDArray, closest: NDArray, trials: int, rng: np.random.Generator
) -> NDArray | None:
    """k-means++ candidates drawn with probability ``w * closest``; None when that is all 0."""
    cand, total = _sample_by_weight(w * closest, rng.random(trials))
    return cand if total > 0 else None


def _kmeanspp_euclidean(
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    centers: NDArray[np.float64],
    closest: NDArray[np.float64],
    trials: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Greedy k-means++ from ``centers[0]``; fills ``centers`` (k, n_features) and returns it.

    Sampling uses exact float64 distances; only the choice among a round's candidates is scored
    in float32 (a one-matrix-product pass that is 2-3x cheaper), so a different pick needs two
    candidates whose potentials tie to ~1e-6.
    """
    n, f = x.shape
    k = len(centers)
    # Rows (x, 1, |x|^2) against (-2c, |c|^2, 1): all candidates' squared distances in one matrix
    # product, (trials, n_samples). Centred first so float32 loses little to cancellation.
    xc = x - x.mean(0)
    aug = np.empty((f + 2, n), dtype=np.float32)
    aug[:f] = xc.T
    aug[f] = 1.0
    aug[f + 1] = (xc * xc).sum(1)
    caug = np.empty((trials, f + 2), dtype=np.float32)
    caug[:, f + 1] = 1.0
    cols = _block_rows(trials)
    d = np.empty((trials, n), dtype=np.float32)
    w32 = w.astype(np.float32)
    for i in range(1, k):
        cand = _candidates(w, closest, trials, rng)
        if cand is None:  # every point already coincides with a centre
            centers[i] = x[i % len(x)]
            continue
        c = xc[cand]
        caug[:, :f] = -2.0 * c
        caug[:, f] = (c * c).sum(1)
        for start in range(0, n, cols):
            np.matmul(caug, aug[:, start : start + cols], out=d[:, start : start + cols])
        np.minimum(d, closest.astype(np.float32), out=d)
        best = int(np.argmin(d @ w32))
        centers[i] = x[cand[best]]
        diff = x - centers[i]
        np.minimum(closest, np.einsum("ij,ij->i", diff, diff), out=closest)
    return centers


# Points per block when sampling by weight: a cumulative sum over block totals, then one block.
_SAMPLE_BLOCK = 256


def _sample_by_weight(pot: NDArray, u: NDArray) -> tuple[NDArray[np.intp], float]:
    """Indices drawn with probability proportional to ``pot`` (n,) >= 0, one per ``u`` in [0, 1).

    Inverse CDF in two levels (block totals, then within the block), which avoids a cumulative
    sum over all points on every k-means++ round. Returns (indices, total weight).
    """
    n = len(pot)
    nb = -(-n // _SAMPLE_BLOCK)
    padded = np.zeros(nb * _SAMPLE_BLOCK)
    padded[:n] = pot
    blocks = padded.reshape(nb, _SAMPLE_BLOCK)
    sums = blocks.sum(1)
    if nb == 1:  # (a frame of at most 256 colours, as a GIF's) the points' own inverse CDF:
        # the count of cumulative weights below each target, which never decrease
        total = float(sums[0])
        return np.minimum(np.searchsorted(np.cumsum(padded), u * total), n - 1), total
    cum = np.cumsum(sums)
    total = float(cum[-1])
    target = u * total
    blk = np.minimum(np.searchsorted(cum, target), nb - 1)
    within = np.cumsum(blocks[blk], axis=1)
    rest = target - (cum[blk] - sums[blk])
    pos = (within < rest[:, None]).sum(1)
    idx = blk * _SAMPLE_BLOCK + np.minimum(pos, _SAMPLE_BLOCK - 1)
    return np.minimum(idx, n - 1), total


def kmeans(
    x: NDArray,
    k: int,
    *,
    weights: NDArray | None = None,
    metric: Metric = "euclidean",
    init: Init | NDArray = "kmeans++",
    n_init: int = 1,
    max_iter: int = 50,
    tol: float = 1e-3,
    rng: np.random.Generator | int | None = None,
) -> KMeansResult:
    """Weighted k-means (``euclidean``) or k-medians (``manhattan``).

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features)
    k : number of clusters, >= 1. With fewer distinct points than ``k`` every point is a centre.
    weights : ndarray of shape (n_samples,), > 0, or None for all ones
    init : ``kmeans++``, ``random``, ``farthest`` or an ndarray of starting centres (k, n_features);
        an array is a warm start, so ``n_init`` is ignored (fewer than k rows, as a fit of data
        with fewer than k distinct points returns, give that many centres)
    n_init : restarts for a named ``init``; the lowest inertia wins
    tol : stop when no centre moves more than this (max abs coordinate change)
    rng : Generator or seed, for deterministic runs

    Returns
    -------
    KMeansResult
    """
    x, w = _checked_data(x, k, weights, metric)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if isinstance(init, np.ndarray):
        start = _checked_start(init, k, x.shape[1])
        return _lloyd(x, w, start, metric=metric, max_iter=max_iter, tol=tol)
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}")
    distinct = np.unique(x, axis=0)
    if len(distinct) <= k:
        labels, dist = assign(x, distinct, metric)
        inertia = _wsum(w, dist)
        return KMeansResult(distinct, labels, inertia, 0, (inertia,))
    best: KMeansResult | None = None
    for run in range(max(1, n_init)):
        start = init_centers(
            x,
            w,
            k,
            method=init,
            metric=metric,
            rng=rng,
            deterministic_first=run == 0 and init == "farthest",
        )
        res = _lloyd(x, w, start, metric=metric, max_iter=max_iter, tol=tol)
        if best is None or res.inertia < best.inertia:
            best = res
    assert best is not None
    return best


def _checked_data(
    x: NDArray, k: int, weights: NDArray | None, metric: Metric
) -> tuple[NDArray, NDArray]:
    """``kmeans``' data and weights as float64 arrays, checked with ``k`` and ``metric``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError("x must be a non-empty 2-D array")
    if not 1 <= k:
        raise ValueError("k must be >= 1")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(x),) or (w <= 0).any():
        raise ValueError("weights must be positive, one per sample")
    return x, w


def _checked_start(init: NDArray, k: int, n_features: int) -> NDArray:
    """A warm start's centres as float64, checked: (1..k, n_features), finite."""
    start = np.asarray(init, dtype=np.float64)
    if start.ndim != 2 or start.shape[1] != n_features or not 1 <= len(start) <= k:
        raise ValueError(
            f"init centres must have shape (k, n_features) = ({k}, {n_features}) (or "
            f"fewer rows, for data with fewer distinct points), not {start.shape}"
        )
    if not np.isfinite(start).all():
        raise ValueError("init centres must be finite")
    return start
