# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of table look-ups and of the GIF writer's delta frames (their numpy
versions, beside the code that calls them, are the reference): a pixel-to-entry gather, byte
counts, the rectangle of changed pixels, and a delta rectangle's pixels."""

from libc.stdint cimport uint8_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t
from libc.string cimport memcpy

import sys

import numpy as np

cdef bint LITTLE_ENDIAN = sys.byteorder == "little"

ctypedef fused table_t:
    uint8_t
    uint16_t
    uint32_t

ctypedef fused index_t:
    uint8_t
    uint16_t
    int32_t
    int64_t


def gather_into(const table_t[::1] table, const index_t[:, :] index, table_t[:, ::1] out):
    """``out[i, j] = table[index[i, j]]``, an index clipped to the table as np.take's
    mode="clip" does (in range anyway); ``out`` has ``index``'s shape."""
    cdef Py_ssize_t i, j, hi = table.shape[0] - 1
    cdef int64_t v
    if out.shape[0] != index.shape[0] or out.shape[1] != index.shape[1]:
        raise ValueError("out must have the index's shape")
    if hi < 0:
        if index.shape[0] * index.shape[1]:
            raise IndexError("cannot gather from an empty table")
        return
    with nogil:
        for i in range(index.shape[0]):
            for j in range(index.shape[1]):
                v = index[i, j]
                if v < 0:
                    v = 0
                elif v > hi:
                    v = hi
                out[i, j] = table[v]


def count_bytes(const uint8_t[:, :] a):
    """How many times each of the 256 values occurs in ``a`` (h, w) uint8: (256,) int64."""
    counts = np.zeros(256, np.int64)
    cdef int64_t[::1] c = counts
    cdef int64_t c4[4][256]
    cdef Py_ssize_t i, j, k, w = a.shape[1]
    with nogil:
        # Four tables, so runs of one value do not wait on one counter.
        for k in range(256):
            c4[0][k] = 0
            c4[1][k] = 0
            c4[2][k] = 0
            c4[3][k] = 0
        for i in range(a.shape[0]):
            j = 0
            while j + 4 <= w:
                c4[0][a[i, j]] += 1
                c4[1][a[i, j + 1]] += 1
                c4[2][a[i, j + 2]] += 1
                c4[3][a[i, j + 3]] += 1
                j += 4
            while j < w:
                c4[0][a[i, j]] += 1
                j += 1
        for k in range(256):
            c[k] = c4[0][k] + c4[1][k] + c4[2][k] + c4[3][k]
    return counts


def count_where(const uint8_t[:, :] a, const uint8_t[:, :] where):
    """``count_bytes`` of the pixels of ``a`` (h, w) where ``where`` (h, w) is non-zero."""
    counts = np.zeros(256, np.int64)
    cdef int64_t[::1] c = counts
    cdef Py_ssize_t i, j, w = a.shape[1]
    cdef const uint8_t* ra
    cdef const uint8_t* rw
    if where.shape[0] != a.shape[0] or where.shape[1] != w:
        raise ValueError("where must have a's shape")
    if a.shape[0] == 0 or w == 0:
        return counts
    cdef Py_ssize_t sa = a.strides[1], sw = where.strides[1]
    with nogil:
        for i in range(a.shape[0]):
            # Row pointers: the crops are views, and two strides a pixel cost more than the rest.
            ra, rw = &a[i, 0], &where[i, 0]
            for j in range(w):  # branch-free: changed pixels are scattered (noise)
                c[ra[j * sa]] += rw[j * sw] != 0
    return counts


cdef inline Py_ssize_t _first_not(const uint8_t *row, Py_ssize_t w, uint8_t v) noexcept nogil:
    """The first j < w with row[j] != v, or w (eight bytes at a time: most rows of a delta
    frame are all unchanged)."""
    cdef Py_ssize_t j = 0
    cdef uint64_t word, all_v = <uint64_t>0x0101010101010101 * v
    while j + 8 <= w:
        memcpy(&word, row + j, 8)
        if word != all_v:
            break
        j += 8
    while j < w and row[j] == v:
        j += 1
    return j


cdef inline Py_ssize_t _last_not(const uint8_t *row, Py_ssize_t lo, Py_ssize_t w,
                                 uint8_t v) noexcept nogil:
    """The last j >= lo with row[j] != v, or lo - 1."""
    cdef Py_ssize_t j = w
    cdef uint64_t word, all_v = <uint64_t>0x0101010101010101 * v
    while j - 8 >= lo:
        memcpy(&word, row + j - 8, 8)
        if word != all_v:
            break
        j -= 8
    j -= 1
    while j >= lo and row[j] == v:
        j -= 1
    return j


def box_not(const uint8_t[:, :] a, int value):
    """The smallest rectangle holding every pixel of ``a`` (h, w) that is not ``value``:
    (top, bottom, left, right), bottom and right exclusive; None when there is none."""
    cdef Py_ssize_t i, j, h = a.shape[0], w = a.shape[1]
    cdef Py_ssize_t top = -1, bottom = -1, left = w, right = -1
    cdef uint8_t v = <uint8_t>value
    cdef const uint8_t *row
    if w and a.strides[1] != 1:
        a = np.ascontiguousarray(a)  # (the writer's are rows of bytes)
    with nogil:
        for i in range(h if w else 0):
            row = &a[i, 0]
            j = _first_not(row, w, v)
            if j < w:
                if top < 0:
                    top = i
                bottom = i
                if j < left:
                    left = j
                # The rightmost such pixel of this row, from the right.
                j = _last_not(row, right + 1, w, v)
                if j > right:
                    right = j
    if top < 0:
        return None
    return top, bottom + 1, left, right + 1


def lut_where(const uint8_t[:, :] indices, const uint16_t[::1] lut, const uint8_t[::1] keep,
              uint8_t[:, ::1] mask, Py_ssize_t n_kept):
    """``mask = keep[indices]`` (h, w) in place and ``lut[indices[mask]]`` (n_kept,) uint16, for
    a palette image ``indices`` (h, w) uint8 and ``lut``, ``keep`` of 256 entries; ``n_kept``:
    how many pixels ``keep`` keeps."""
    if lut.shape[0] < 256 or keep.shape[0] < 256:
        raise ValueError("lut and keep need 256 entries")
    if mask.shape[0] != indices.shape[0] or mask.shape[1] != indices.shape[1]:
        raise ValueError("mask must have the indices' shape")
    out = np.empty(n_kept, np.uint16)
    cdef uint16_t[::1] o = out
    cdef Py_ssize_t i, j, k = 0
    cdef uint8_t v
    with nogil:
        for i in range(indices.shape[0]):
            for j in range(indices.shape[1]):
                v = indices[i, j]
                mask[i, j] = keep[v]
                if keep[v]:
                    if k == n_kept:
                        with gil:
                            raise ValueError("more pixels kept than n_kept")
                    o[k] = lut[v]
                    k += 1
    if k != n_kept:
        raise ValueError("fewer pixels kept than n_kept")
    return out


def delta_pixels(const uint8_t[:, :] indices, const uint8_t[:, :] changed, int transparent,
                 const uint8_t[::1] drawn):
    """A delta rectangle: (pixels (h, w) uint8, choice, n_choice). A changed pixel keeps its
    index; so does an unchanged one whose index is ``drawn`` (``drawn[index]``, 256 entries:
    the frame's table holds it anyway), and it may be ``transparent`` instead (it shows the
    same either way); any other is ``transparent``. ``choice``: a bit a pixel of those that
    may be either, in row-major order (numpy.packbits' bitorder="little"), (h * w + 7) // 8
    uint8; ``n_choice``: how many they are."""
    cdef Py_ssize_t h = indices.shape[0], w = indices.shape[1], i, j, k = 0, n_choice = 0
    if changed.shape[0] != h or changed.shape[1] != w:
        raise ValueError("changed must have the indices' shape")
    if drawn.shape[0] < 256:
        raise ValueError("drawn needs 256 entries")
    out = np.empty((h, w), np.uint8)
    bits = np.zeros((h * w + 7) // 8, np.uint8)
    if h == 0 or w == 0:
        return out, bits, 0
    cdef uint8_t[:, ::1] o = out
    cdef uint8_t[::1] b = bits
    cdef uint8_t t = <uint8_t>transparent, v, either
    cdef Py_ssize_t si = indices.strides[1], sc = changed.strides[1]
    cdef const uint8_t* ri
    cdef const uint8_t* rc
    cdef uint8_t* ro
    with nogil:
        for i in range(h):
            # Row pointers (the crops are views) and no branch on a pixel (noise is scattered).
            ri, rc, ro = &indices[i, 0], &changed[i, 0], &o[i, 0]
            for j in range(w):
                v = ri[j * si]
                either = (rc[j * sc] == 0) & (drawn[v] != 0)
                ro[j] = v if rc[j * sc] | drawn[v] else t
                b[k >> 3] |= either << (k & 7)
                n_choice += either
                k += 1
    return out, bits, n_choice


def set_bits(const uint8_t[::1] bits):
    """The positions of the set bits of ``bits`` (numpy.packbits' order, the first bit the
    highest), ascending: ``np.flatnonzero(np.unpackbits(bits))`` as intp."""
    cdef Py_ssize_t n = bits.shape[0], i, k = 0
    cdef int b
    with nogil:
        for i in range(n):
            k += _POPCOUNT8[bits[i]]
    out_arr = np.empty(k, np.intp)
    cdef Py_ssize_t[::1] out = out_arr
    k = 0
    with nogil:
        for i in range(n):
            if bits[i] == 0:
                continue
            for b in range(8):
                if bits[i] & (0x80 >> b):
                    out[k] = 8 * i + b
                    k += 1
    return out_arr


cdef uint8_t _POPCOUNT8[256]
for _i in range(256):
    _POPCOUNT8[_i] = bin(_i).count("1")


def planes_rgba(const uint8_t[:, :, ::1] gbr, uint8_t[:, :, ::1] out):
    """A planar frame as ffmpeg's ``gbrp`` has it, (3, h, w) uint8, planes G, B, R, into
    ``out``, (h, w, 4) RGBA, alpha 255."""
    cdef Py_ssize_t i, n = gbr.shape[1] * gbr.shape[2]
    if gbr.shape[0] != 3 or out.shape[0] != gbr.shape[1] or out.shape[1] != gbr.shape[2] \
            or out.shape[2] != 4:
        raise ValueError("gbr must be (3, h, w) and out (h, w, 4)")
    if n == 0:
        return
    cdef const uint8_t* g = &gbr[0, 0, 0]
    cdef const uint8_t* b = &gbr[1, 0, 0]
    cdef const uint8_t* r = &gbr[2, 0, 0]
    # A pixel a 32-bit word (the compiler vectorises the shifts, not the bytes' stores).
    cdef uint32_t* o = <uint32_t*>&out[0, 0, 0]
    with nogil:
        if LITTLE_ENDIAN:
            for i in range(n):
                o[i] = r[i] | (<uint32_t>g[i] << 8) | (<uint32_t>b[i] << 16) | 0xFF000000u
        else:
            for i in range(n):
                o[i] = (<uint32_t>r[i] << 24) | (<uint32_t>g[i] << 16) | (<uint32_t>b[i] << 8) | 0xFFu
