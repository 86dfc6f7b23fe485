# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled majority look-up for the painter's coherence rule (its numpy version,
``temporal.peer_slots_reference``, is the reference): for each still pixel, the entry most
pixels of its source colour show."""

from libc.stdint cimport uint8_t, int32_t, uint32_t, int64_t

import numpy as np

cdef uint32_t EMPTY = 0xFFFFFFFF  # no 24-bit colour is this


cdef inline Py_ssize_t _find(const uint32_t[::1] table, Py_ssize_t mask, uint32_t key) noexcept nogil:
    """The position of ``key`` in the open-addressed ``table``, or of the empty one it goes in."""
    cdef Py_ssize_t h = <Py_ssize_t>((key * <uint32_t>2654435761) >> 8) & mask
    while table[h] != EMPTY and table[h] != key:
        h = (h + 1) & mask
    return h


DEF TALLY_MAX = 1 << 20  # counts (4 MB) for each still colour and slot, at most


cdef void _tally_modes(const uint32_t[::1] keys, const uint8_t[::1] slots,
                       const uint32_t[::1] table, const int32_t[::1] ids, Py_ssize_t mask,
                       Py_ssize_t n_ids, int kk, uint8_t[::1] mode):
    # Each still colour's mode by counting every pixel's (colour, slot) at once: one pass,
    # where the still colours are few (or the slots, kk, are).
    tally_arr = np.zeros((n_ids + 1) * kk, np.int32)
    cdef int32_t[::1] tally = tally_arr
    cdef Py_ssize_t p, i, s
    cdef int32_t best
    cdef int b
    with nogil:
        for p in range(keys.shape[0]):
            tally[ids[_find(table, mask, keys[p])] * kk + slots[p]] += 1
        for i in range(n_ids):
            best, b = -1, 0
            for s in range(kk):  # the lowest slot of a tie
                if tally[i * kk + s] > best:
                    best, b = tally[i * kk + s], s
            mode[i] = b


cdef void _bucket_modes(const uint32_t[::1] keys, const uint8_t[::1] slots,
                        const uint32_t[::1] table, const int32_t[::1] ids, Py_ssize_t mask,
                        Py_ssize_t n_ids, uint8_t[::1] mode):
    # Each still colour's mode from its pixels' slots, gathered colour by colour (a counting
    # sort): where the still colours are many.
    cdef Py_ssize_t n = keys.shape[0], p, i, s, start, end
    starts_arr = np.zeros(n_ids + 2, np.int64)
    pixel_arr = np.empty(n, np.int32)
    cdef int64_t[::1] starts = starts_arr
    cdef int32_t[::1] pixel_id = pixel_arr
    cdef int32_t c
    with nogil:
        for p in range(n):  # each pixel's colour id, counted
            c = ids[_find(table, mask, keys[p])]
            pixel_id[p] = c
            starts[c + 1] += 1
        for i in range(n_ids + 1):
            starts[i + 1] += starts[i]
    bucket_arr = np.empty(n, np.uint8)
    fill_arr = starts_arr[:n_ids + 1].copy()
    cdef uint8_t[::1] bucket = bucket_arr
    cdef int64_t[::1] fill = fill_arr
    cdef int64_t counts[256]
    cdef int64_t best
    cdef int b
    with nogil:
        for p in range(n):  # the slots each colour's pixels show, colour by colour
            c = pixel_id[p]
            bucket[fill[c]] = slots[p]
            fill[c] += 1
        for s in range(256):
            counts[s] = 0
        for i in range(n_ids):
            start, end = starts[i], starts[i + 1]
            for p in range(start, end):
                counts[bucket[p]] += 1
            best, b = -1, 0
            for p in range(start, end):
                s = bucket[p]
                if counts[s] > best or (counts[s] == best and s < b):
                    best, b = counts[s], s
            mode[i] = b
            for p in range(start, end):
                counts[bucket[p]] = 0


def peer_slots(const uint32_t[::1] keys, const uint8_t[::1] slots, const int64_t[::1] idx,
               Py_ssize_t tally_max=TALLY_MAX):
    """For each pixel ``idx[i]``, the slot (of ``slots``, one a pixel) that most of the pixels
    whose packed colour (``keys``, one a pixel) is that pixel's show; a tie goes to the lowest
    slot. Returns (len(idx),) uint8. The modes are tallied at once where the still colours
    times the slots in use are at most ``tally_max`` (the tests set it to take both ways)."""
    cdef Py_ssize_t n = keys.shape[0], m = idx.shape[0], size = 4096, i, p, h, s, start, end
    cdef uint8_t[::1] result
    if slots.shape[0] != n:
        raise ValueError("keys and slots must have one value a pixel")
    out = np.zeros(m, np.uint8)
    if m == 0:
        return out
    result = out
    for i in range(m):
        p = idx[i]
        if p < 0 or p >= n:
            raise IndexError("a still pixel's index is outside the frame")
    # An id for each distinct colour of the still pixels, in a table kept at most a quarter
    # full (most look-ups, of every pixel's colour below, take one probe) and so small that
    # it stays in the cache: the still pixels share few colours.
    still_arr = np.empty(m, np.int32)
    cdef int32_t[::1] still_id = still_arr
    cdef uint32_t[::1] table
    cdef int32_t[::1] ids
    cdef Py_ssize_t mask, n_ids = 0, done = 0
    cdef uint32_t key
    while True:
        table_arr = np.full(size, EMPTY, np.uint32)
        ids_arr = np.empty(size, np.int32)
        table = table_arr
        ids = ids_arr
        mask = size - 1
        n_ids = 0
        with nogil:
            for i in range(m):
                key = keys[idx[i]]
                h = _find(table, mask, key)
                if table[h] == EMPTY:
                    if 4 * (n_ids + 1) > size:
                        break
                    table[h] = key
                    ids[h] = n_ids
                    n_ids += 1
                still_id[i] = ids[h]
            else:
                done = 1
        if done:
            break
        size *= 4
    # Id n_ids for the pixels of no still pixel's colour: counted like the rest (after the
    # others), so no pixel takes a branch.
    cdef int32_t c
    cdef int kk = 0
    mode_arr = np.zeros(n_ids, np.uint8)
    cdef uint8_t[::1] mode = mode_arr
    with nogil:
        for h in range(size):
            if table[h] == EMPTY:
                ids[h] = n_ids
        for p in range(n):
            kk = slots[p] if slots[p] > kk else kk
    kk += 1
    if (n_ids + 1) * kk <= tally_max:
        _tally_modes(keys, slots, table, ids, mask, n_ids, kk, mode)
    else:
        _bucket_modes(keys, slots, table, ids, mask, n_ids, mode)
    with nogil:
        for i in range(m):
            result[i] = mode[still_id[i]]
    return out
