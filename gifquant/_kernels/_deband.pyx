# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled loops of ``gifquant._core.deband`` (``deband_reference`` there is the oracle)."""

from libc.math cimport sqrt, sqrtf
from libc.string cimport memcpy
cimport cython

import numpy as np

ctypedef fused index_t:
    unsigned short
    int


def deband_slots(const unsigned char[::1] slots, const index_t[::1] inverse,
                 const unsigned char[::1] smooth, const float[::1] threshold,
                 const float[:, ::1] colours_lab, const double[:, ::1] palette_lab,
                 const unsigned char[:, ::1] colours_rgb, double lo, double hi):
    """The de-banded slots (n,) uint8, and how many pixels changed (see ``deband_reference``).

    Each colour's entry is the slot of its last pixel; a colour on a smooth pixel, not
    clipped, finds its second-nearest entry (CIELAB, squared differences summed in channel
    order, the lowest slot among equals) among the entries closer than ``hi`` to its own when
    that settles it (a nearer one outside is then impossible), else among all of them."""
    cdef Py_ssize_t n = slots.shape[0], m = colours_lab.shape[0], k = palette_lab.shape[0]
    cdef Py_ssize_t i, j, c, e1, e2, best
    cdef int x
    entry_arr = np.zeros(m, np.int32)
    used_arr = np.zeros(m, np.uint8)
    share_arr = np.zeros(m, np.float32)
    other_arr = np.zeros(m, np.uint8)
    out_arr = np.empty(n, np.uint8)
    near_arr = np.zeros((k, k), np.int32)  # each entry's entries closer than hi, by slot
    n_near_arr = np.zeros(k, np.int32)
    cdef int[::1] entry = entry_arr, n_near = n_near_arr
    cdef int[:, ::1] near = near_arr
    cdef unsigned char[::1] used = used_arr, other = other_arr, out = out_arr
    cdef float[::1] share = share_arr
    cdef double d2, best2, a0, a1, a2, c0, c1, c2, b0, b1, b2, gap2, f, o0, o1, o2, reach
    cdef double hi2 = hi * hi, lo2 = lo * lo
    cdef Py_ssize_t changed = 0
    if k < 2:
        return np.asarray(slots), 0
    with nogil:
        for i in range(n):
            entry[inverse[i]] = slots[i]
            if smooth[i]:
                used[inverse[i]] = 1
        for i in range(k):
            for j in range(k):
                if j != i:
                    d2 = ((palette_lab[i, 0] - palette_lab[j, 0]) ** 2
                          + (palette_lab[i, 1] - palette_lab[j, 1]) ** 2
                          + (palette_lab[i, 2] - palette_lab[j, 2]) ** 2)
                    if d2 < hi2:
                        near[i, n_near[i]] = <int>j
                        n_near[i] += 1
        for i in range(m):
            if not used[i]:
                continue
            x = 0
            for c in range(3):
                if colours_rgb[i, c] == 0 or colours_rgb[i, c] == 255:
                    x = 1
            if x:
                continue
            e1 = entry[i]
            c0, c1, c2 = colours_lab[i, 0], colours_lab[i, 1], colours_lab[i, 2]
            a0, a1, a2 = palette_lab[e1, 0], palette_lab[e1, 1], palette_lab[e1, 2]
            # A colour 1.25 hi^2 or more from its entry lies off the side of any entry pair
            # closer than hi (off^2 >= 0.25 gap^2): it is never dithered.
            if (c0 - a0) ** 2 + (c1 - a1) ** 2 + (c2 - a2) ** 2 >= 1.25 * hi2:
                continue
            best, best2 = -1, 0.0
            for j in range(n_near[e1]):
                e2 = near[e1, j]
                d2 = (c0 - palette_lab[e2, 0]) ** 2 + (c1 - palette_lab[e2, 1]) ** 2 + (
                    c2 - palette_lab[e2, 2]) ** 2
                if best < 0 or d2 < best2:
                    best, best2 = e2, d2
            # An entry hi or more from e1 is at least hi - |c - a| from c: the one found is
            # the nearest of all when it is nearer than that.
            reach = hi - sqrt((c0 - a0) ** 2 + (c1 - a1) ** 2 + (c2 - a2) ** 2) - 1e-9
            if best < 0 or reach <= 0 or best2 >= reach * reach:
                best = -1
                for e2 in range(k):
                    if e2 == e1:
                        continue
                    d2 = (c0 - palette_lab[e2, 0]) ** 2 + (c1 - palette_lab[e2, 1]) ** 2 + (
                        c2 - palette_lab[e2, 2]) ** 2
                    if best < 0 or d2 < best2:
                        best, best2 = e2, d2
            b0, b1, b2 = palette_lab[best, 0] - a0, palette_lab[best, 1] - a1, palette_lab[best, 2] - a2
            gap2 = b0 * b0 + b1 * b1 + b2 * b2
            if not (gap2 >= lo2 and gap2 < hi2):
                continue
            f = ((c0 - a0) * b0 + (c1 - a1) * b1 + (c2 - a2) * b2) / (gap2 if gap2 > 1e-12 else 1e-12)
            if not (f > 0 and f < 1):
                continue
            o0, o1, o2 = c0 - a0 - f * b0, c1 - a1 - f * b1, c2 - a2 - f * b2
            if not (o0 * o0 + o1 * o1 + o2 * o2 < 0.25 * gap2):
                continue
            share[i] = <float>(f if f < 0.5 else 0.5)
            other[i] = <unsigned char>best
        for i in range(n):
            if smooth[i] and share[inverse[i]] > threshold[i]:
                out[i] = other[inverse[i]]
                changed += 1
            else:
                out[i] = slots[i]
    return out_arr, changed


def smooth_pixels(const float[:, :, ::1] lab, const unsigned char[:, ::1] detail, int scale,
                  Py_ssize_t h, Py_ssize_t w, float smooth, int detail_max):
    """The (h, w) uint8 mask of ``deband.smooth_mask_reference`` from the small frame's CIELAB
    ``lab`` (hs, ws, 3) float32 and ``detail`` (hs, ws): the 1-2-1 blur (rows, then columns),
    the central differences' gradient over ``2 * scale`` pixels under ``smooth``, the detail
    at most ``detail_max``, each small pixel spread over its ``scale`` x ``scale`` pixels
    (the small frame's edges, and what it does not cover, 0). float32 arithmetic in numpy's
    order, so the mask is the reference's bit for bit."""
    cdef Py_ssize_t hs = lab.shape[0], ws = lab.shape[1], y, x, c, i
    if lab.shape[2] != 3 or detail.shape[0] != hs or detail.shape[1] != ws:
        raise ValueError("lab must be (hs, ws, 3) and detail (hs, ws)")
    if hs * scale > h or ws * scale > w:
        raise ValueError("the small frame must fit the frame")
    out_arr = np.zeros((h, w), np.uint8)
    if hs < 3 or ws < 3:
        return out_arr
    rows_arr = np.empty((hs, ws, 3), np.float32)
    blur_arr = np.empty((hs, ws, 3), np.float32)
    small_arr = np.zeros((hs, ws), np.uint8)
    cdef float[:, :, ::1] rows = rows_arr, blur = blur_arr
    cdef unsigned char[:, ::1] small = small_arr, out = out_arr
    cdef float quarter = 0.25, half = 0.5, d, gx, gy, scaled = 2 * scale
    with nogil:
        for y in range(hs):
            for x in range(ws):
                for c in range(3):
                    if 0 < y < hs - 1:
                        rows[y, x, c] = quarter * lab[y - 1, x, c] + half * lab[y, x, c] + quarter * lab[y + 1, x, c]
                    else:
                        rows[y, x, c] = lab[y, x, c]
        for y in range(hs):
            for x in range(ws):
                for c in range(3):
                    if 0 < x < ws - 1:
                        blur[y, x, c] = quarter * rows[y, x - 1, c] + half * rows[y, x, c] + quarter * rows[y, x + 1, c]
                    else:
                        blur[y, x, c] = rows[y, x, c]
        for y in range(1, hs - 1):
            for x in range(1, ws - 1):
                if detail[y, x] > detail_max:
                    continue
                gy = 0
                gx = 0
                for c in range(3):
                    d = blur[y + 1, x, c] - blur[y - 1, x, c]
                    gy = gy + d * d
                    d = blur[y, x + 1, c] - blur[y, x - 1, c]
                    gx = gx + d * d
                if sqrtf(gx + gy) / scaled < smooth:
                    small[y, x] = 1
        for y in range(hs):
            for x in range(ws):
                for i in range(scale):
                    out[y * scale, x * scale + i] = small[y, x]
            for i in range(1, scale):
                memcpy(&out[y * scale + i, 0], &out[y * scale, 0], ws * scale)
    return out_arr


def entries_within(const double[:, ::1] lab, double limit2):
    """Whether two of the entries ``lab`` (k, 3) float64 lie within a squared distance
    ``limit2`` of each other (``deband.entries_apart_reference``'s pairs, summed in its
    order); stops at the first such pair."""
    cdef Py_ssize_t k = lab.shape[0], i, j
    cdef double d0, d1, d2
    if k and lab.shape[1] != 3:
        raise ValueError("lab must be (k, 3)")
    for i in range(k):  # a palette's pairs: too few to be worth releasing the GIL
        for j in range(i + 1, k):
            d0 = lab[i, 0] - lab[j, 0]
            d1 = lab[i, 1] - lab[j, 1]
            d2 = lab[i, 2] - lab[j, 2]
            if (d0 * d0 + d1 * d1) + d2 * d2 <= limit2:
                return True
    return False
