# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of ``gifquant._denoise`` (its numpy functions are the reference)."""

from libc.math cimport floor
cimport cython

import numpy as np

cdef double PERSIST2 = 9.0  # _denoise.PERSIST ** 2
cdef double SHOWN_MIN = 2.5
cdef double SHOWN_MAX = 4.0
DEF MEMORY_MAX = 64
cdef int MEMORY = MEMORY_MAX


def block_noise_sums(const unsigned char[:, :, :] prev, const unsigned char[:, :, :] cur,
                     const unsigned char[:, :, :] nxt, int block, double cap, double small):
    """Per block: the sum of its blips' squared second differences (capped at ``cap``^2), their
    count; and the frame's count of blips of at most ``small`` levels."""
    cdef Py_ssize_t h = cur.shape[0], w = cur.shape[1], y, x, c
    cdef Py_ssize_t hb = (h + block - 1) // block, wb = (w + block - 1) // block
    e2_sum_arr = np.zeros((hb, wb), np.float64)
    n_arr = np.zeros((hb, wb), np.int64)
    cdef double[:, :] e2_sum = e2_sum_arr
    cdef long long[:, :] n_blip = n_arr
    # Twice the second difference is a whole number: e4 = (2 lap)^2 summed, exact in integers.
    cdef long long lap2, e4, cap4 = <long long>(4 * cap * cap), small4 = <long long>(4 * small * small)
    cdef long long n_small = 0, row_sum, row_n
    with nogil:
        for y in range(h):
            for x in range(w):
                e4 = 0
                for c in range(3):
                    lap2 = 2 * <long long>cur[y, x, c] - prev[y, x, c] - nxt[y, x, c]
                    e4 = e4 + lap2 * lap2
                if e4 >= 4:
                    if e4 > cap4:
                        e4 = cap4
                    e2_sum[y // block, x // block] += 0.25 * e4
                    n_blip[y // block, x // block] += 1
                    if e4 <= small4:
                        n_small += 1
    return e2_sum_arr, n_arr, n_small


cdef inline double _sq3(double a, double b, double c) noexcept nogil:
    return a * a + b * b + c * c


def denoise_step(list window, const float[:, ::1] blocks, int block, float[:, :, ::1] mean,
                 unsigned char[:, ::1] count, unsigned char[:, :, ::1] shown):
    """One frame of ``_denoise.step_reference``'s maths on the state, in place; returns the
    pixels held. ``window``: 1 to 4 frames (h, w, >=3) uint8 of one shape; ``blocks``: the
    per-block sigma."""
    cdef int L = len(window)
    if not 1 <= L <= 4:
        raise ValueError("window must hold 1 to 4 frames")
    cdef const unsigned char[:, :, :] f0 = window[0]
    cdef const unsigned char[:, :, :] fv_
    cdef Py_ssize_t h = f0.shape[0], w = f0.shape[1], y, x, c
    # Each frame by its own strides (RGB and RGBA frames may be mixed), read through pointers:
    # a memoryview chosen per pixel would cost a reference count each time.
    cdef const unsigned char* base[4]
    cdef Py_ssize_t sy[4]
    cdef Py_ssize_t sx[4]
    cdef Py_ssize_t sc[4]
    cdef int i
    for i in range(L):
        fv_ = window[i]
        if fv_.shape[0] != h or fv_.shape[1] != w or fv_.shape[2] < 3:
            raise ValueError("the window's frames must be (h, w, >=3) of one size")
        base[i] = &fv_[0, 0, 0]
        sy[i], sx[i], sc[i] = fv_.strides[0], fv_.strides[1], fv_.strides[2]
    cdef int going, r
    cdef double s, s2, run[3], xs[3], fv[3], m[3], est[3], d2, dr, n, n_new, thr, q, v
    cdef bint restart
    cdef long long held = 0
    cdef const unsigned char* p
    # Reciprocals of the counts, so each pixel multiplies (the reference does the same).
    cdef double inv[MEMORY_MAX + 8]
    inv[0] = 0
    for i in range(1, MEMORY_MAX + 8):
        inv[i] = 1.0 / i
    with nogil:
        for y in range(h):
            for x in range(w):
                s = blocks[y // block, x // block]
                s2 = s * s
                p = base[0] + y * sy[0] + x * sx[0]
                for c in range(3):
                    xs[c] = p[c * sc[0]]
                    run[c] = xs[c]
                r = 1
                going = 1
                for i in range(1, L):
                    if not going:
                        break
                    p = base[i] + y * sy[i] + x * sx[i]
                    for c in range(3):
                        fv[c] = p[c * sc[i]]
                    d2 = _sq3(fv[0] - xs[0], fv[1] - xs[1], fv[2] - xs[2])
                    if d2 <= 32 * s2:
                        for c in range(3):
                            run[c] = run[c] + fv[c]
                        r = r + 1
                    else:
                        going = 0
                for c in range(3):
                    run[c] = run[c] * inv[r]
                    m[c] = mean[y, x, c]
                n = count[y, x]
                if count[y, x] == 0:
                    restart = True
                else:
                    dr = _sq3(run[0] - m[0], run[1] - m[1], run[2] - m[2])
                    thr = 16 * s2 * (inv[r] + inv[count[y, x]])
                    if thr < PERSIST2:
                        thr = PERSIST2
                    restart = dr > thr
                if restart:
                    n_new = 1
                    for c in range(3):
                        mean[y, x, c] = <float>xs[c]
                        est[c] = run[c]
                else:
                    n_new = n + 1
                    if n_new > MEMORY:
                        n_new = MEMORY
                    for c in range(3):
                        mean[y, x, c] = <float>(m[c] + (xs[c] - m[c]) * inv[<int>n_new])
                        est[c] = (<double>mean[y, x, c] * n_new + run[c] * r) * inv[<int>n_new + r]
                count[y, x] = <unsigned char>n_new
                q = s
                if q < SHOWN_MIN:
                    q = SHOWN_MIN
                elif q > SHOWN_MAX:
                    q = SHOWN_MAX
                if _sq3(est[0] - shown[y, x, 0], est[1] - shown[y, x, 1], est[2] - shown[y, x, 2]) > q * q:
                    for c in range(3):
                        v = floor(est[c] + 0.5)
                        if v < 0:
                            v = 0
                        elif v > 255:
                            v = 255
                        shown[y, x, c] = <unsigned char>v
                p = base[0] + y * sy[0] + x * sx[0]
                if shown[y, x, 0] != p[0] or shown[y, x, 1] != p[sc[0]] or shown[y, x, 2] != p[2 * sc[0]]:
                    held += 1
    return held
