# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of ``gifquant._core.distinct`` (its numpy functions are the reference).

A frame's distinct colours come from a bitmap of the 2^24 colours (2 MB, one bit a colour) and a
summary bitmap of its non-zero words (32 KB): the colours come out sorted by walking the set
bits, and a pixel's colour index is the number of set bits before its own (a prefix count per
64-bit word plus a popcount), so there is no sort and no 2^24-entry table. The caller owns the
state arrays (``distinct_state``); every call leaves them cleared for the next frame.

The pixels' pass takes a popcount a pixel: on x86-64 built by gcc or clang it runs a copy of
the pass compiled for the POPCNT instruction when the CPU has it (every x86-64 CPU since 2008
or so, asked at run time: the wheel still runs on the baseline), else the portable one.
"""

from libc.stdint cimport uint8_t, uint16_t, int32_t, uint32_t, int64_t, uint64_t

import numpy as np

cdef extern from *:
    """
    /* The pixels' pass in C: a function compiled for the POPCNT instruction needs gcc's or
       clang's target attribute, which Cython cannot put on its own. The portable popcount:
       no builtin, which is neither in baseline x86-64 nor in MSVC. */
    #include <stdint.h>
    static inline uint32_t gq_popcount(uint64_t x) {
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        return (uint32_t)((x * 0x0101010101010101ULL) >> 56);
    }
    /* Each counted pixel's colour index and its count, with no branch on the colour: a
       pixel's colour is the one before it about half the time, at random. */
    #define GQ_RANK(NAME, ITYPE, ATTR, POP) \\
    ATTR static void NAME(const uint8_t* px, Py_ssize_t row, const uint8_t* mask, \\
                          const uint32_t* keys, Py_ssize_t n, const uint64_t* bits, \\
                          const uint32_t* prefix, ITYPE* inverse, int64_t* counts) { \\
        Py_ssize_t i, j = 0; \\
        uint32_t key, r; \\
        for (i = 0; i < n; i++) { \\
            if (keys) key = keys[i]; \\
            else if (mask && !mask[i]) continue; \\
            else key = ((uint32_t)px[i * row] << 16) | ((uint32_t)px[i * row + 1] << 8) \\
                       | px[i * row + 2]; \\
            r = prefix[key >> 6] + POP(bits[key >> 6] & ((((uint64_t)1) << (key & 63)) - 1)); \\
            inverse[j++] = (ITYPE)r; \\
            counts[r] += 1; \\
        } \\
    }
    GQ_RANK(gq_rank16, uint16_t, , gq_popcount)
    GQ_RANK(gq_rank32, int32_t, , gq_popcount)
    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #define GQ_POPCNT_BUILT 1
    GQ_RANK(gq_rank16_hw, uint16_t, __attribute__((target("popcnt"))), __builtin_popcountll)
    GQ_RANK(gq_rank32_hw, int32_t, __attribute__((target("popcnt"))), __builtin_popcountll)
    static int gq_cpu_popcnt(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("popcnt");
    }
    #else
    #define GQ_POPCNT_BUILT 0
    #define gq_rank16_hw gq_rank16
    #define gq_rank32_hw gq_rank32
    static int gq_cpu_popcnt(void) { return 0; }
    #endif
    """
    void gq_rank16(const uint8_t* px, Py_ssize_t row, const uint8_t* mask, const uint32_t* keys,
                   Py_ssize_t n, const uint64_t* bits, const uint32_t* prefix, uint16_t* inverse,
                   int64_t* counts) noexcept nogil
    void gq_rank32(const uint8_t* px, Py_ssize_t row, const uint8_t* mask, const uint32_t* keys,
                   Py_ssize_t n, const uint64_t* bits, const uint32_t* prefix, int32_t* inverse,
                   int64_t* counts) noexcept nogil
    void gq_rank16_hw(const uint8_t* px, Py_ssize_t row, const uint8_t* mask,
                      const uint32_t* keys, Py_ssize_t n, const uint64_t* bits,
                      const uint32_t* prefix, uint16_t* inverse, int64_t* counts) noexcept nogil
    void gq_rank32_hw(const uint8_t* px, Py_ssize_t row, const uint8_t* mask,
                      const uint32_t* keys, Py_ssize_t n, const uint64_t* bits,
                      const uint32_t* prefix, int32_t* inverse, int64_t* counts) noexcept nogil
    int gq_cpu_popcnt() noexcept nogil
    uint32_t gq_popcount(uint64_t x) noexcept nogil


# The CPU has the POPCNT instruction and this build has the pass compiled for it.
HARDWARE_POPCOUNT = bool(gq_cpu_popcnt())


def distinct_state(hardware=None):
    """Fresh, cleared state for ``distinct_rgba`` and ``distinct_keys`` (about 3 MB): the bitmap,
    the summary of its non-zero words, the prefix count of each word, and whether the pixels'
    pass takes the POPCNT instruction (``hardware``; None: where the CPU has it)."""
    if hardware is None:
        hardware = HARDWARE_POPCOUNT
    elif hardware and not HARDWARE_POPCOUNT:
        raise ValueError("this CPU or build has no hardware popcount")
    return (np.zeros(1 << 18, np.uint64), np.zeros(1 << 12, np.uint64),
            np.empty(1 << 18, np.uint32), bool(hardware))


cdef inline uint32_t _lowest_bit(uint64_t x) noexcept nogil:
    """The position of the lowest set bit of ``x`` (non-zero)."""
    return gq_popcount((x & (~x + 1)) - 1)


cdef inline void _mark(uint64_t* bits, uint64_t* summary, uint32_t key) noexcept nogil:
    bits[key >> 6] |= (<uint64_t>1) << (key & 63)
    summary[key >> 12] |= (<uint64_t>1) << ((key >> 6) & 63)


cdef Py_ssize_t _prefix(const uint64_t* bits, const uint64_t* summary, uint32_t* prefix) noexcept nogil:
    """Set each non-zero word's prefix count (words in order); returns the number of colours."""
    cdef Py_ssize_t s, m = 0
    cdef uint64_t sw
    cdef uint32_t w
    for s in range(1 << 12):
        sw = summary[s]
        while sw:
            w = <uint32_t>(s << 6) + _lowest_bit(sw)
            sw &= sw - 1
            prefix[w] = <uint32_t>m
            m += gq_popcount(bits[w])
    return m


cdef void _colours_and_clear(uint64_t* bits, uint64_t* summary, uint8_t* out) noexcept nogil:
    """Write the set colours in increasing order as (r, g, b) bytes; clear the bitmaps."""
    cdef Py_ssize_t s, j = 0
    cdef uint64_t sw, word
    cdef uint32_t w, key
    for s in range(1 << 12):
        sw = summary[s]
        while sw:
            w = <uint32_t>(s << 6) + _lowest_bit(sw)
            sw &= sw - 1
            word = bits[w]
            bits[w] = 0
            while word:
                key = (w << 6) + _lowest_bit(word)
                word &= word - 1
                out[3 * j] = <uint8_t>(key >> 16)
                out[3 * j + 1] = <uint8_t>(key >> 8)
                out[3 * j + 2] = <uint8_t>key
                j += 1
        summary[s] = 0


cdef void _clear(uint64_t* bits, uint64_t* summary) noexcept nogil:
    cdef Py_ssize_t s
    cdef uint64_t sw
    for s in range(1 << 12):
        sw = summary[s]
        while sw:
            bits[(s << 6) + _lowest_bit(sw)] = 0
            sw &= sw - 1
        summary[s] = 0


cdef _ranked(state, Py_ssize_t m, Py_ssize_t n, const uint8_t* px, Py_ssize_t row,
             const uint8_t* mask, const uint32_t* keys, Py_ssize_t n_all):
    """(colours (m, 3) uint8, counts (m,) int64, inverse (n,) uint16 when m <= 65536 else
    int32) of the ``n`` counted pixels among ``n_all`` marked in ``state``: the pixels are
    ``keys`` (packed colours) or, when that is NULL, the rows of ``px`` (``row`` bytes apart,
    r, g, b first), less those ``mask`` leaves out. Clears the state."""
    cdef uint64_t[::1] bits = state[0]
    cdef uint64_t[::1] summary = state[1]
    cdef uint32_t[::1] prefix = state[2]
    colours, counts = np.empty((m, 3), np.uint8), np.zeros(m, np.int64)
    inverse = np.empty(n, np.uint16 if m <= 1 << 16 else np.int32)
    cdef uint8_t[:, ::1] c = colours
    cdef int64_t[::1] cn = counts
    cdef uint16_t[::1] i16
    cdef int32_t[::1] i32
    cdef bint wide = m > 1 << 16, hw = state[3]
    if n and wide:
        i32 = inverse
    elif n:
        i16 = inverse
    with nogil:  # one release of the GIL for both
        if n and wide and hw:
            gq_rank32_hw(px, row, mask, keys, n_all, &bits[0], &prefix[0], &i32[0], &cn[0])
        elif n and wide:
            gq_rank32(px, row, mask, keys, n_all, &bits[0], &prefix[0], &i32[0], &cn[0])
        elif n and hw:
            gq_rank16_hw(px, row, mask, keys, n_all, &bits[0], &prefix[0], &i16[0], &cn[0])
        elif n:
            gq_rank16(px, row, mask, keys, n_all, &bits[0], &prefix[0], &i16[0], &cn[0])
        if m:
            _colours_and_clear(&bits[0], &summary[0], &c[0, 0])
    return colours, counts, inverse


def distinct_rgba(const uint8_t[:, ::1] px, int alpha_threshold, uint8_t[::1] mask, state):
    """The distinct colours of the pixels ``px`` (n, 4) uint8 whose alpha is at least
    ``alpha_threshold``: (colours (m, 3) uint8 in increasing packed order, counts (m,) int64,
    inverse (n_opaque,) uint16 when m <= 65536 else int32). ``mask`` (n,) uint8, or None when
    every pixel counts, is set to 1 where a pixel does, else 0."""
    cdef uint64_t[::1] bits = state[0]
    cdef uint64_t[::1] summary = state[1]
    cdef uint32_t[::1] prefix = state[2]
    cdef Py_ssize_t i, m, n = px.shape[0], n_opaque = 0
    cdef bint masked = mask is not None
    cdef uint8_t* mk = NULL
    if masked:
        if mask.shape[0] != n:
            raise ValueError("mask must hold one byte a pixel")
        mk = &mask[0] if n else NULL
    if n and px.shape[1] < 4:
        raise ValueError("px must be (n, 4)")
    with nogil:
        for i in range(n):
            if masked:
                if px[i, 3] < alpha_threshold:
                    mk[i] = 0
                    continue
                mk[i] = 1
            _mark(&bits[0], &summary[0],
                  (<uint32_t>px[i, 0] << 16) | (<uint32_t>px[i, 1] << 8) | px[i, 2])
            n_opaque += 1
        m = _prefix(&bits[0], &summary[0], &prefix[0])
    if n_opaque == 0:
        return _ranked(state, m, 0, NULL, 0, NULL, NULL, 0)
    return _ranked(state, m, n_opaque, &px[0, 0], px.strides[0], mk, NULL, n)


def distinct_keys(const uint32_t[::1] keys, state):
    """The distinct values of packed colours ``keys`` (n,) (each < 2^24): as ``distinct_rgba``."""
    cdef uint64_t[::1] bits = state[0]
    cdef uint64_t[::1] summary = state[1]
    cdef uint32_t[::1] prefix = state[2]
    cdef Py_ssize_t i, m, n = keys.shape[0]
    cdef uint32_t k
    cdef bint bad = False
    with nogil:
        for i in range(n):
            k = keys[i]
            if k >= (1 << 24):
                bad = True
                break
            _mark(&bits[0], &summary[0], k)
        if bad:
            _clear(&bits[0], &summary[0])
        else:
            m = _prefix(&bits[0], &summary[0], &prefix[0])
    if bad:
        raise ValueError("a packed colour has at most 24 bits")
    return _ranked(state, m, n, NULL, 0, NULL, &keys[0] if n else NULL, n)
