# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of ``gifquant._core.temporal``'s painting (the ``*_reference``
functions there are the oracles)."""

import numpy as np

ctypedef fused index_t:
    unsigned short
    int
    long long


def sticky_slots(const unsigned char[::1] slots, const unsigned char[::1] last,
                 const index_t[::1] inverse, const float[:, ::1] colours_lab,
                 const float[:, ::1] display_lab, float limit2):
    """``slots`` (n,) with each pixel whose slot differs from ``last`` taking its ``last``
    slot back where that entry (``display_lab``, (k, 3) float32) is within ``limit2`` (squared
    CIELAB distance, float32 arithmetic, channels summed in order) of the pixel's colour
    (``colours_lab[inverse]``); and how many pixels took it back (0: the result is ``slots``'
    values)."""
    cdef Py_ssize_t n = slots.shape[0], i, j
    if last.shape[0] != n or inverse.shape[0] != n:
        raise ValueError("slots, last and inverse must have one length")
    if colours_lab.shape[1] != 3 or display_lab.shape[1] != 3:
        raise ValueError("the colours must be (m, 3)")
    cdef Py_ssize_t m = colours_lab.shape[0], k = display_lab.shape[0]
    out_arr = np.empty(n, np.uint8)
    cdef unsigned char[::1] out = out_arr
    cdef float d0, d1, d2
    cdef unsigned char old
    cdef Py_ssize_t kept = 0
    cdef bint bad = False
    with nogil:
        for i in range(n):
            old = last[i]
            out[i] = slots[i]
            if slots[i] == old:
                continue
            j = inverse[i]
            if old >= k or j < 0 or j >= m:
                bad = True
                break
            d0 = display_lab[old, 0] - colours_lab[j, 0]
            d1 = display_lab[old, 1] - colours_lab[j, 1]
            d2 = display_lab[old, 2] - colours_lab[j, 2]
            d0 = d0 * d0
            d1 = d1 * d1
            d2 = d2 * d2
            if (d0 + d1) + d2 <= limit2:
                out[i] = old
                kept += 1
    if bad:
        raise IndexError("a slot or colour index out of range")
    return out_arr, kept


def kept_slots(const unsigned char[::1] slots, const unsigned int[::1] fed,
               const unsigned char[::1] smooth, const unsigned char[::1] last,
               const unsigned int[::1] last_fed, const double[:, ::1] display_lab,
               const unsigned char[::1] same_colour, double limit2):
    """``slots`` (n,) with each smooth pixel whose colour ``fed`` is the last frame's and whose
    slot changed taking its ``last`` slot back where that entry kept its colour
    (``same_colour``, (k,)) and is within ``limit2`` (squared CIELAB distance, float64,
    channels summed in order) of the new one; and how many took it back."""
    cdef Py_ssize_t n = slots.shape[0], k = display_lab.shape[0], i
    if fed.shape[0] != n or smooth.shape[0] != n or last.shape[0] != n or last_fed.shape[0] != n:
        raise ValueError("slots, fed, smooth, last and last_fed must have one length")
    if display_lab.shape[1] != 3 or same_colour.shape[0] != k:
        raise ValueError("display_lab must be (k, 3) and same_colour (k,)")
    out_arr = np.empty(n, np.uint8)
    cdef unsigned char[::1] out = out_arr
    cdef unsigned char a, b
    cdef double d0, d1, d2
    cdef Py_ssize_t kept = 0
    cdef bint bad = False
    with nogil:
        for i in range(n):
            a = last[i]
            b = slots[i]
            out[i] = b
            if not smooth[i] or a == b or fed[i] != last_fed[i]:
                continue
            if a >= k or b >= k:
                bad = True
                break
            d0 = display_lab[a, 0] - display_lab[b, 0]
            d1 = display_lab[a, 1] - display_lab[b, 1]
            d2 = display_lab[a, 2] - display_lab[b, 2]
            if (d0 * d0 + d1 * d1) + d2 * d2 <= limit2 and same_colour[a]:
                out[i] = a
                kept += 1
    if bad:
        raise IndexError("a slot out of range")
    return out_arr, kept
