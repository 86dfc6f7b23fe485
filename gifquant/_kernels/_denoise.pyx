# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of ``gifquant._denoise`` (its numpy functions are the reference)."""

from libc.math cimport floor
cimport cython

import numpy as np

DEF MEMORY_MAX = 250


def downsample(const unsigned char[:, :, :] img, int s):
    """Each s x s block's mean colour, rounded, (h // s, w // s, 3) uint8, and its detail: the
    largest range (max - min) of a channel within the block, (h // s, w // s) uint8."""
    cdef Py_ssize_t hs = img.shape[0] // s, ws = img.shape[1] // s, y, x, c, i, j
    if img.shape[2] < 3:
        raise ValueError("the frame must have at least three channels")
    out_arr = np.empty((hs, ws, 3), np.uint8)
    detail_arr = np.empty((hs, ws), np.uint8)
    cdef unsigned char[:, :, ::1] out = out_arr
    cdef unsigned char[:, ::1] detail = detail_arr
    cdef long acc[3]
    cdef int lo[3]
    cdef int hi[3]
    cdef int v, r
    cdef long area = s * s
    cdef Py_ssize_t sy = img.strides[0], sx = img.strides[1], sc = img.strides[2]
    cdef const unsigned char* p
    if hs == 0 or ws == 0:
        return out_arr, detail_arr
    with nogil:
        for y in range(hs):
            for x in range(ws):
                for c in range(3):
                    acc[c] = 0
                    lo[c] = 255
                    hi[c] = 0
                for i in range(s):
                    # The block's row i, read along by pointer (its strides once, not per byte).
                    p = &img[y * s + i, x * s, 0]
                    for j in range(s):
                        for c in range(3):
                            v = p[c * sc]
                            acc[c] += v
                            lo[c] = v if v < lo[c] else lo[c]  # branch-free: a conditional move
                            hi[c] = v if v > hi[c] else hi[c]
                        p += sx
                r = 0
                for c in range(3):
                    out[y, x, c] = <unsigned char>((acc[c] + area // 2) // area)
                    if hi[c] - lo[c] > r:
                        r = hi[c] - lo[c]
                detail[y, x] = <unsigned char>r
    return out_arr, detail_arr


def block_noise_sums(const unsigned char[:, :, :] prev, const unsigned char[:, :, :] cur,
                     const unsigned char[:, :, :] nxt, int block, double cap, double small):
    """Per block: the sum of its blips' squared second differences (capped at ``cap``^2), their
    count, and the count of its moving pixels (changed by more than ``cap`` from ``prev`` or to
    ``nxt``); and the frame's count of blips of at most ``small`` levels."""
    cdef Py_ssize_t h = cur.shape[0], w = cur.shape[1], y, x0, x1, bx
    cdef Py_ssize_t hb = (h + block - 1) // block, wb = (w + block - 1) // block
    if prev.shape[0] != h or nxt.shape[0] != h or prev.shape[1] != w or nxt.shape[1] != w:
        raise ValueError("the three frames must have one size")
    if cur.shape[2] < 3 or prev.shape[2] < 3 or nxt.shape[2] < 3:
        raise ValueError("the frames must have at least three channels")
    e4_arr = np.zeros((hb, wb), np.int64)
    n_arr = np.zeros((hb, wb), np.int64)
    moving_arr = np.zeros((hb, wb), np.int64)
    cdef long long[:, ::1] e4_sum = e4_arr
    cdef long long[:, ::1] n_blip = n_arr
    cdef long long[:, ::1] n_moving = moving_arr
    # Twice the second difference is a whole number: e4 = (2 lap)^2 summed, exact in integers
    # (and so is a block's sum of e4 / 4, the squared second differences, in a double).
    cdef long long cap2 = <long long>(cap * cap), cap4 = <long long>(4 * cap * cap)
    cdef long long small4 = <long long>(4 * small * small), n_small = 0
    cdef long long s_e4, s_blip, s_moving, lap2, e4, d_prev, d_next, a, b
    cdef const unsigned char* pp
    cdef const unsigned char* pc
    cdef const unsigned char* pn
    cdef Py_ssize_t x, c
    cdef Py_ssize_t pxs = prev.strides[1], pcs = prev.strides[2]
    cdef Py_ssize_t cxs = cur.strides[1], ccs = cur.strides[2]
    cdef Py_ssize_t nxs = nxt.strides[1], ncs = nxt.strides[2]
    if h == 0 or w == 0:
        return e4_arr.astype(np.float64), n_arr, moving_arr, 0
    with nogil:
        for y in range(h):
            for bx in range(wb):
                x0 = bx * block
                x1 = x0 + block if x0 + block < w else w
                s_e4 = 0
                s_blip = 0
                s_moving = 0
                pp = &prev[y, x0, 0]
                pc = &cur[y, x0, 0]
                pn = &nxt[y, x0, 0]
                for x in range(x0, x1):
                    e4 = 0
                    d_prev = 0
                    d_next = 0
                    for c in range(3):
                        lap2 = 2 * <long long>pc[c * ccs] - pp[c * pcs] - pn[c * ncs]
                        e4 = e4 + lap2 * lap2
                        a = <long long>pc[c * ccs] - pp[c * pcs]
                        b = <long long>pn[c * ncs] - pc[c * ccs]
                        d_prev = d_prev + a * a
                        d_next = d_next + b * b
                    if d_prev > cap2 or d_next > cap2:
                        s_moving += 1
                    if e4 >= 4:
                        if e4 > cap4:
                            e4 = cap4
                        s_e4 += e4
                        s_blip += 1
                        if e4 <= small4:
                            n_small += 1
                    pp += pxs
                    pc += cxs
                    pn += nxs
                # Per block and row, not per pixel: no division and one write a block.
                e4_sum[y // block, bx] += s_e4
                n_blip[y // block, bx] += s_blip
                n_moving[y // block, bx] += s_moving
    return 0.25 * e4_arr, n_arr, moving_arr, n_small


cdef inline double _sq3(double a, double b, double c) noexcept nogil:
    return a * a + b * b + c * c


def block_gradient(const unsigned char[:, :, ::1] img, int block):
    """Per block, the mean over its pixels of (|dx| + |dy|) / 2 by central differences, averaged
    over the three channels: levels a pixel (border pixels count 0)."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y, x, c, bx, x0, x1
    cdef Py_ssize_t hb = (h + block - 1) // block, wb = (w + block - 1) // block
    cdef Py_ssize_t row = img.strides[0], ch = img.strides[1]
    out_arr = np.zeros((hb, wb), np.int64)
    cdef long long[:, ::1] out = out_arr
    cdef long long g
    cdef const unsigned char* p
    # Whole numbers throughout: the sums and counts are exact, in any order.
    starts = np.arange(max(hb, wb)) * block
    rows, cols = np.minimum(block, h - starts[:hb]), np.minimum(block, w - starts[:wb])
    cnt_arr = np.outer(rows, cols).astype(np.float64)  # each block's pixels
    with nogil:
        for y in range(1, h - 1):
            for bx in range(wb):
                x0 = bx * block
                x1 = x0 + block
                if x0 < 1:
                    x0 = 1
                if x1 > w - 1:
                    x1 = w - 1
                g = 0
                for x in range(x0, x1):
                    p = &img[y, x, 0]
                    for c in range(3):
                        g = g + abs(<int>p[ch + c] - <int>p[c - ch])
                        g = g + abs(<int>p[row + c] - <int>p[c - row])
                out[y // block, bx] += g
    return out_arr / (6.0 * cnt_arr)


def denoise_step(list window, before, const float[:, ::1] blocks,
                 const unsigned char[:, ::1] tight, int block, float[:, :, ::1] mean,
                 unsigned char[:, ::1] count, unsigned char[:, :, ::1] shown,
                 unsigned char[:, ::1] still_off, double persist, double shown_min,
                 double shown_max, double tight_level, int memory):
    """One frame of ``_denoise.step_reference``'s maths on the state, in place; returns the
    pixels held. ``window``: 1 to 4 frames (h, w, >=3) uint8 of one shape; ``before``: the
    frame before them, or None; ``blocks``: the per-block sigma; ``tight``: per block, 1 where
    it is smooth (a steady shift of more than ``tight_level`` levels restarts a pixel there,
    and its shown value moves at that); ``shown``: (h, w, 4), its alpha copied from the frame;
    ``still_off``: set to 1 where the source is exactly as ``before`` and shown otherwise; the
    rest are ``_denoise``'s constants of the same names."""
    if not 1 <= memory <= MEMORY_MAX:
        raise ValueError(f"memory must be 1..{MEMORY_MAX}")
    cdef double PERSIST2 = persist * persist, SHOWN_MIN = shown_min, SHOWN_MAX = shown_max
    cdef double TIGHT = tight_level
    cdef int MEMORY = memory
    cdef int L = len(window)
    if not 1 <= L <= 4:
        raise ValueError("window must hold 1 to 4 frames")
    cdef const unsigned char[:, :, :] f0 = window[0]
    cdef const unsigned char[:, :, :] fv_
    cdef Py_ssize_t h = f0.shape[0], w = f0.shape[1], y, x, c
    # Each frame by its own strides (RGB and RGBA frames may be mixed), read through pointers:
    # a memoryview chosen per pixel would cost a reference count each time.
    cdef const unsigned char* base[5]
    cdef Py_ssize_t sy[5]
    cdef Py_ssize_t sx[5]
    cdef Py_ssize_t sc[5]
    cdef int i
    cdef bint has_before = before is not None
    cdef bint has_alpha = f0.shape[2] > 3
    for i in range(L + has_before):
        fv_ = window[i] if i < L else before
        if fv_.shape[0] != h or fv_.shape[1] != w or fv_.shape[2] < 3:
            raise ValueError("the window's frames must be (h, w, >=3) of one size")
        base[i] = &fv_[0, 0, 0]
        sy[i], sx[i], sc[i] = fv_.strides[0], fv_.strides[1], fv_.strides[2]
    cdef int going, r
    cdef double s, s2, run[3], xs[3], fv[3], m[3], est[3], d2, dr, n, n_new, thr, q, v, persist2
    cdef double q_min
    cdef bint restart
    cdef long long held = 0
    cdef const unsigned char* p
    cdef const unsigned char* pb
    # Reciprocals of the counts, so each pixel multiplies (the reference does the same).
    cdef double inv[MEMORY_MAX + 8]
    inv[0] = 0
    for i in range(1, MEMORY_MAX + 8):
        inv[i] = 1.0 / i
    # Each column's block, worked out once (a division per pixel costs more than the rest).
    xb_arr = np.arange(w, dtype=np.intp) // block
    cdef const Py_ssize_t[::1] xb = xb_arr
    cdef Py_ssize_t yb
    with nogil:
        for y in range(h):
            yb = y // block
            for x in range(w):
                s = blocks[yb, xb[x]]
                s2 = s * s
                if tight[yb, xb[x]]:
                    persist2, q_min = TIGHT * TIGHT, TIGHT
                else:
                    persist2, q_min = PERSIST2, SHOWN_MIN
                p = base[0] + y * sy[0] + x * sx[0]
                if s == 0:  # a moving block: the source as it comes, the look-ahead unread
                    for c in range(3):
                        mean[y, x, c] = <float>p[c * sc[0]]
                        shown[y, x, c] = p[c * sc[0]]
                    count[y, x] = 1
                    shown[y, x, 3] = p[3 * sc[0]] if has_alpha else 255
                    still_off[y, x] = 0
                    continue
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
                if count[y, x] == 0 or s == 0:  # s 0: a moving block, taken as it comes
                    restart = True
                else:
                    dr = _sq3(run[0] - m[0], run[1] - m[1], run[2] - m[2])
                    thr = 16 * s2 * (inv[r] + inv[count[y, x]])
                    if thr < persist2:
                        thr = persist2
                    restart = dr > thr
                if restart:
                    n_new = 1
                    for c in range(3):
                        mean[y, x, c] = <float>xs[c]
                        est[c] = run[c] if s > 0 else xs[c]
                else:
                    n_new = n + 1
                    if n_new > MEMORY:
                        n_new = MEMORY
                    for c in range(3):
                        mean[y, x, c] = <float>(m[c] + (xs[c] - m[c]) * inv[<int>n_new])
                        est[c] = (<double>mean[y, x, c] * n_new + run[c] * r) * inv[<int>n_new + r]
                count[y, x] = <unsigned char>n_new
                q = s
                if q < q_min:
                    q = q_min
                elif q > SHOWN_MAX:
                    q = SHOWN_MAX
                if s == 0 or _sq3(est[0] - shown[y, x, 0], est[1] - shown[y, x, 1], est[2] - shown[y, x, 2]) > q * q:
                    for c in range(3):
                        v = floor(est[c] + 0.5)
                        if v < 0:
                            v = 0
                        elif v > 255:
                            v = 255
                        shown[y, x, c] = <unsigned char>v
                p = base[0] + y * sy[0] + x * sx[0]
                shown[y, x, 3] = p[3 * sc[0]] if has_alpha else 255
                still_off[y, x] = 0
                if shown[y, x, 0] != p[0] or shown[y, x, 1] != p[sc[0]] or shown[y, x, 2] != p[2 * sc[0]]:
                    held += 1
                    if has_before:
                        pb = base[L] + y * sy[L] + x * sx[L]
                        if pb[0] == p[0] and pb[sc[L]] == p[sc[0]] and pb[2 * sc[L]] == p[2 * sc[0]]:
                            still_off[y, x] = 1
    return held
