"""The stability rules: what keeps a seeded palette and its pixels still. Pure numpy.

- **palette hysteresis** (``stable_palette``, ``cluster_spread``): an entry's colour follows its
  centroid only once the centroid has moved more than a threshold, which scales with how far the
  entry's own pixels lie from it (the RMS spread of its cluster, at most the threshold given):
  drift that buys nothing repaints nothing, while a tight cluster (a flat area, 256 entries on a
  gradient) follows its colour closely;
- **stable slots** (``match_slots``): after a fresh initialisation the new centroids take the slots
  of the old ones they are closest to, so unchanged colours keep unchanged indices;
- **one entry per colour**: every pixel gets the entry its colour maps to, like every other
  pixel of that colour; no pixel holds a colour on its own, so the screen shows only this
  frame's palette and no stale colour.

An entry whose colour moves repaints every pixel that uses it (the screen is always
``palette[slots]``), so no colour of an older palette survives on screen.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .colour import delta_e

# Colours handled at a time where (m, 3) temporaries of every colour would be large.
_CHUNK = 1 << 16


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


def cluster_spread(
    lab: NDArray, weights: NDArray, labels: NDArray, entries_lab: NDArray
) -> NDArray[np.float64]:
    """RMS distance (dE) of each entry's colours from it.

    lab : (m, 3) Lab of the colours, weights : (m,) their pixel counts, labels : (m,) the entry
    each belongs to, entries_lab : (k, 3). Returns (k,); an entry with no colour gets 0.
    """
    k = len(entries_lab)
    entries = np.asarray(entries_lab, np.float32)
    weighted = np.empty(len(labels))  # weights * squared distance
    for start in range(0, len(labels), _CHUNK):  # (m, 3) temporaries a chunk at a time
        part = slice(start, start + _CHUNK)
        d = np.asarray(lab[part], np.float32) - entries[labels[part]]
        np.multiply(weights[part], np.einsum("ij,ij->i", d, d), out=weighted[part])
    s = np.bincount(labels, weights=weighted, minlength=k)
    del weighted
    w = np.bincount(labels, weights=weights, minlength=k)
    return np.sqrt(np.divide(s, w, out=np.zeros(k), where=w > 0))


def stable_palette(
    displayed_lab: NDArray | None, target_lab: NDArray, threshold: float | NDArray
) -> NDArray[np.bool_]:
    """Which slots repaint: those whose target colour is more than ``threshold`` dE (a number,
    or one per slot) from the colour now displayed (all of them when nothing is displayed yet).
    Shape (k,)."""
    if displayed_lab is None or len(displayed_lab) != len(target_lab):
        return np.ones(len(target_lab), dtype=bool)
    return delta_e(displayed_lab, target_lab) > threshold
