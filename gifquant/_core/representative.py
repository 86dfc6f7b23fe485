"""A palette entry's colour: its cluster's mean (k-means), or its most common colour. Pure numpy.

The mean of a cluster that straddles two colours is a third colour found nowhere in the picture
(the "muddy" mean); the mode is a colour the picture holds. Counting exact colours alone would
let one lucky pixel value win over a broad patch of near-equal shades, so the pixels are first
counted in coarse bins (``bits`` per channel), and the most common exact colour inside the
winning bin is taken.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .colour import pack_rgb, unpack_rgb

REPRESENTATIVES: tuple[str, ...] = ("mean", "mode")
MODE_BITS = 4


def cluster_modes(
    colours: NDArray[np.uint8],
    weights: NDArray,
    labels: NDArray[np.integer],
    k: int,
    bits: int = MODE_BITS,
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """The most common colour of each of ``k`` clusters.

    colours : (m, 3) uint8 (a colour may be listed more than once: its weights add up);
    weights : (m,) > 0, pixels of each; labels : (m,) the cluster of each, < k.
    Returns (modes (k, 3) uint8, present (k,) bool): a cluster's busiest bin at ``bits`` per
    channel, and in it the colour with the most pixels (ties: the first bin, the smallest
    colour); an empty cluster (present False) gets black.
    """
    modes = np.zeros((k, 3), np.uint8)
    present = np.zeros(k, bool)
    if len(colours) == 0:
        return modes, present
    shift = 8 - bits
    c = colours >> shift
    bins = c[:, 0].astype(np.int64) << (2 * bits)
    bins |= c[:, 1].astype(np.int64) << bits
    bins |= c[:, 2]
    n_bins = 1 << (3 * bits)
    labels = np.asarray(labels, np.int64)
    per_bin = np.bincount(labels * n_bins + bins, weights=weights, minlength=k * n_bins)
    per_bin = per_bin.reshape(k, n_bins)
    present = per_bin.max(1) > 0
    best_bin = per_bin.argmax(1)
    del per_bin
    inside = np.flatnonzero(bins == best_bin[labels])
    # (cluster, colour) pairs of the winning bins, their pixels summed.
    key = labels[inside] << 24 | pack_rgb(colours[inside]).astype(np.int64)
    pairs, inverse = np.unique(key, return_inverse=True)
    totals = np.bincount(inverse.ravel(), weights=np.asarray(weights)[inside], minlength=len(pairs))
    cluster = pairs >> 24
    order = np.lexsort((pairs, -totals, cluster))  # by cluster, most pixels first
    first = order[np.r_[True, cluster[order][1:] != cluster[order][:-1]]]
    modes[cluster[first]] = unpack_rgb(pairs[first] & 0xFFFFFF)
    return modes, present
