# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""GIF LZW encoding (``tests/lzw_reference.py`` is the reference, byte for byte).

Textbook LZW with choices any decoder reads unawares: the smallest minimum code size the pixels
allow; optionally flexible parsing (a code a pixel or so shorter than the longest match when
the match after it then reaches further); what to do with a full table (see ``encode``):
clear at once, keep it while its codes cost less a pixel than a fresh table's did, or race a
fresh table against it; and, in a delta frame, whether a pixel that shows the same either way
is written as its own index or as the transparent one: whichever makes the match longer
(``choice_step``). This module imports nothing but the standard library: the encoder process
loads it by path, without numpy.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy, memset

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

cdef enum:
    MAX_CODES = 4096
    HASH_BITS = 13
    SLOTS = 1 << HASH_BITS  # twice the codes: probes stay short
    MAX_LOOKAHEAD = 8
    RECORDED = 2 * MAX_CODES + 16  # a trial's codes at most (see ``encode_raw``)
    HEURISTIC = 0  # the policies of a full table (see ``encode``)
    RACE = 1
    EAGER = 2
    DIRECT_BITS = 6  # up to this minimum code size, ``child`` (512 KB) beats hashing: 2-3x
    MEAN_SHIFT = 8  # the running mean of pixels a code spans about the last 256 codes
    REMAIN = 1000  # no clear with fewer codes than this left at that mean: it cannot pay

cdef extern from *:
    """
    #define LZW_EMPTY 0xFFFFFFFFu
    """
    # No entry: an entry's code is always above its prefix, so none is all ones.
    const uint32_t EMPTY "LZW_EMPTY"


cdef struct Coder:
    uint32_t *slots  # the table: (prefix << 8 | pixel) << 12 | code, open addressing
    int next_code
    int min_bits
    Py_ssize_t pos  # the first pixel not yet coded
    uint16_t *path  # the codes of the longest match at ``pos`` (match_len of them; 0: unknown)
    int match_len
    Py_ssize_t hole  # the empty slot the longest match's failed probe ended at
    uint16_t *spare[MAX_LOOKAHEAD + 1]  # paths of the other candidates
    uint16_t *child  # with few colours, the table as code << min_bits | pixel (else NULL)
    uint32_t *log  # the entries of ``child`` set since the last clear
    int n_log
    bint record  # keep the codes (a trial) rather than write them out
    uint16_t *codes
    uint8_t *widths
    Py_ssize_t n_codes
    Py_ssize_t bits  # of the codes kept
    # With a choice (``choice_step``), else ``choice`` is NULL:
    const uint8_t *choice  # a bit a pixel: it may be ``transparent`` instead of its index
    int transparent
    uint16_t *prefix  # each entry's code without its last pixel
    uint8_t *first  # each code's first pixel
    uint16_t *height  # each code's longest string below it, in pixels (or more: see ``add``)
    uint16_t *to_t  # with hashing: each code's entry + the transparent index, 0 if none
    uint16_t *forks  # the search's depths still to go back to
    int pending  # the last code, whose entry waits for this code's first pixel; -1: none
    int reserved  # that entry's code


cdef struct Out:
    uint8_t *buf
    Py_ssize_t size  # bytes written to ``buf``
    uint64_t acc  # bits not yet written, the first in the lowest bit
    int n_acc
    Py_ssize_t bits  # all the bits put


cdef inline void put(Out *out, uint32_t code, int width) noexcept nogil:
    out.acc |= (<uint64_t>code) << out.n_acc
    out.n_acc += width
    out.bits += width
    while out.n_acc >= 8:
        out.buf[out.size] = <uint8_t>out.acc
        out.size += 1
        out.acc >>= 8
        out.n_acc -= 8


cdef inline void truncate(Out *out, Py_ssize_t bits) noexcept nogil:
    """Forget the bits put after the first ``bits``."""
    if bits < out.size * 8:
        out.size = bits >> 3
        out.acc = out.buf[out.size]
        out.n_acc = bits & 7
    else:
        out.n_acc = <int>(bits - out.size * 8)
    out.acc &= ((<uint64_t>1) << out.n_acc) - 1
    out.bits = bits


cdef inline uint32_t slot_of(uint32_t key) noexcept nogil:
    return (key * <uint32_t>2654435761u) >> (32 - HASH_BITS)


cdef inline int width_of(Coder *c) noexcept nogil:
    # The decoder adds its entries one code behind: it reads a code with the width that holds
    # every code defined before that code's own entry.
    cdef int w = c.min_bits + 1
    while w < 12 and (1 << w) < c.next_code:
        w += 1
    return w


cdef inline uint32_t probe(const uint32_t *slots, uint32_t key, Py_ssize_t *at) noexcept nogil:
    """The entry of ``key`` in ``slots``, EMPTY if none; ``at``: its slot, or where it would go."""
    cdef Py_ssize_t h = slot_of(key)
    cdef uint32_t e = slots[h]
    while e != EMPTY and (e >> 12) != key:
        h = (h + 1) & (SLOTS - 1)
        e = slots[h]
    at[0] = h
    return e


cdef inline void emit(Coder *c, Out *out, uint32_t code) noexcept nogil:
    cdef int w = width_of(c)
    if c.record:
        c.codes[c.n_codes] = <uint16_t>code
        c.widths[c.n_codes] = <uint8_t>w
        c.n_codes += 1
        c.bits += w
    else:
        put(out, code, w)


cdef int extend(Coder *c, const uint8_t *data, Py_ssize_t n, Py_ssize_t p, uint16_t *path,
                int length, Py_ssize_t *hole) noexcept nogil:
    """Extend the match at ``p`` whose first ``length`` codes are in ``path`` to the longest;
    its length. ``hole``: where the lookup of the next entry failed, the slot in ``slots`` or
    the index in ``child`` (-1 at the image's end)."""
    cdef uint32_t code = path[length - 1], key, e
    cdef Py_ssize_t h
    cdef uint32_t *slots = c.slots
    cdef uint16_t *child = c.child
    cdef int shift = c.min_bits
    cdef const uint8_t *at = data + p + length
    cdef const uint8_t *end = data + n
    while at < end:
        if child != NULL:
            h = (code << shift) | at[0]
            e = child[h]
            if e == 0:
                hole[0] = h
                return length
            code = e
        else:
            e = probe(slots, (code << 8) | at[0], &h)
            if e == EMPTY:
                hole[0] = h
                return length
            code = e & 0xFFF
        path[length] = <uint16_t>code
        length += 1
        at += 1
    hole[0] = -1
    return length


cdef inline int match_at(Coder *c, const uint8_t *data, Py_ssize_t n, Py_ssize_t p,
                         uint16_t *path, Py_ssize_t *hole) noexcept nogil:
    path[0] = data[p]
    return extend(c, data, n, p, path, 1, hole)


cdef void clear_child(Coder *c) noexcept nogil:
    """Zero the entries of ``child`` set since the last clear: all of it is zero again."""
    cdef int i
    for i in range(c.n_log):
        c.child[c.log[i]] = 0
    c.n_log = 0


cdef void reset(Coder *c, Py_ssize_t pos) noexcept nogil:
    if c.child != NULL:
        clear_child(c)
    else:
        memset(c.slots, 0xFF, SLOTS * sizeof(uint32_t))
    c.next_code = (1 << c.min_bits) + 2
    c.pending = -1
    if c.height != NULL:
        memset(c.height, 0, (1 << c.min_bits) * sizeof(uint16_t))
    if c.to_t != NULL:
        memset(c.to_t, 0, MAX_CODES * sizeof(uint16_t))
    c.pos = pos
    c.match_len = 0
    c.n_codes = 0
    c.bits = 0


cdef void step(Coder *c, const uint8_t *data, Py_ssize_t n, int lookahead, Out *out) noexcept nogil:
    """Write one code (``c.pos < n``)."""
    cdef Py_ssize_t p = c.pos, hole, spare_hole, best_hole = -1
    cdef int longest, size, length, reach = 0, further, i, best = -1
    cdef uint16_t *swap
    cdef uint32_t code
    if c.match_len == 0:
        c.match_len = match_at(c, data, n, p, c.path, &c.hole)
    longest = size = c.match_len
    hole = c.hole
    if p + longest < n and lookahead > 0:
        reach = -1
        i = 0
        length = longest
        while length >= 1 and length >= longest - lookahead:
            further = length
            if p + length < n:
                further += match_at(c, data, n, p + length, c.spare[i], &spare_hole)
            if further > reach:
                reach, size, best, best_hole = further, length, i, spare_hole
            length -= 1
            i += 1
    code = c.path[size - 1]
    emit(c, out, code)
    c.pos = p + size
    if c.next_code < MAX_CODES:
        if size == longest and c.pos < n:
            if c.child != NULL:
                c.child[hole] = <uint16_t>c.next_code
                c.log[c.n_log] = <uint32_t>hole
                c.n_log += 1
            else:
                c.slots[hole] = ((((code << 8) | data[c.pos])) << 12) | <uint32_t>c.next_code
        c.next_code += 1
    if best < 0 or c.pos >= n:
        c.match_len = 0
        return
    # The chosen candidate's match is the next one: the entry just added may lengthen it.
    swap = c.path
    c.path = c.spare[best]
    c.spare[best] = swap
    c.match_len = reach - size
    c.hole = best_hole
    if c.hole >= 0 and (c.child[c.hole] != 0 if c.child != NULL else c.slots[c.hole] != EMPTY):
        c.match_len = extend(c, data, n, c.pos, c.path, c.match_len, &c.hole)


cdef inline void greedy_step(Coder *c, const uint8_t *data, Py_ssize_t n, Out *out) noexcept nogil:
    """``step`` with no lookahead: the longest match, walked without keeping its path."""
    cdef uint32_t code = data[c.pos], key = 0, e
    cdef Py_ssize_t h = 0
    cdef uint32_t *slots = c.slots
    cdef uint16_t *child = c.child
    cdef int shift = c.min_bits
    cdef const uint8_t *at = data + c.pos + 1
    cdef const uint8_t *end = data + n
    if child != NULL:
        while at < end:
            key = (code << shift) | at[0]
            e = child[key]
            if e == 0:
                break
            code = e
            at += 1
    else:
        while at < end:
            key = (code << 8) | at[0]
            e = probe(slots, key, &h)
            if e == EMPTY:
                break
            code = e & 0xFFF
            at += 1
    emit(c, out, code)
    c.pos = at - data
    if c.next_code < MAX_CODES:
        if at < end:
            if child != NULL:
                child[key] = <uint16_t>c.next_code
                c.log[c.n_log] = key
                c.n_log += 1
            else:
                slots[h] = (key << 12) | <uint32_t>c.next_code
        c.next_code += 1


cdef inline uint32_t lookup(Coder *c, uint32_t code, uint32_t pixel) noexcept nogil:
    """The entry of ``code`` + ``pixel``, 0 if none (no entry is code 0)."""
    cdef Py_ssize_t h
    cdef uint32_t e
    if c.child != NULL:
        return c.child[(code << c.min_bits) | pixel]
    if pixel == <uint32_t>c.transparent:  # (tried first at every pixel that may be either)
        return c.to_t[code]
    e = probe(c.slots, (code << 8) | pixel, &h)
    return 0 if e == EMPTY else e & 0xFFF


cdef bint add(Coder *c, uint32_t code, uint32_t pixel, uint32_t new) noexcept nogil:
    """Enter ``code`` + ``pixel`` as ``new`` unless the table holds it already (``c.hole``:
    where it went), and raise the heights above it (never lowered: an entry taken out again
    leaves them as they were raised, still no less than they are)."""
    cdef Py_ssize_t h
    cdef uint32_t clear = 1 << c.min_bits
    cdef uint16_t up = 1
    if c.child != NULL:
        h = (code << c.min_bits) | pixel
        if c.child[h] != 0:
            return False
        c.child[h] = <uint16_t>new
        c.log[c.n_log] = <uint32_t>h
        c.n_log += 1
    elif pixel == <uint32_t>c.transparent:
        if c.to_t[code] != 0:
            return False
        c.to_t[code] = <uint16_t>new
        h = -1 - <Py_ssize_t>code  # (in ``to_t``)
    else:
        if probe(c.slots, (code << 8) | pixel, &h) != EMPTY:
            return False
        c.slots[h] = (((code << 8) | pixel) << 12) | new
    c.hole = h
    c.prefix[new] = <uint16_t>code
    c.first[new] = c.first[code]
    c.height[new] = 0
    while c.height[code] < up:  # (the walk is no longer than the pixels ``code`` covers)
        c.height[code] = up
        if code < clear:
            break
        code = c.prefix[code]
        up += 1
    return True


cdef inline void remove_last(Coder *c) noexcept nogil:
    """Take out the entry ``add`` made last (no other since): the table is as before it."""
    if c.child != NULL:
        c.child[c.hole] = 0
        c.n_log -= 1
    elif c.hole < 0:
        c.to_t[-1 - c.hole] = 0
    else:
        c.slots[c.hole] = EMPTY


cdef inline bint either(Coder *c, const uint8_t *data, Py_ssize_t q) noexcept nogil:
    """May pixel ``q`` be written as the transparent index as well as its own?"""
    return data[q] != c.transparent and (c.choice[q >> 3] >> (q & 7)) & 1


cdef int search(Coder *c, const uint8_t *data, Py_ssize_t n, Py_ssize_t p,
                uint32_t *best) noexcept nogil:
    """The length of the longest match at ``p`` with either value at a choice pixel (its code
    in ``best``): depth first, the transparent index before the own one (of matches as long,
    the first found), never below a code whose height cannot make a longer match than the
    longest found. Each entry is looked at once at most (two look-ups), so a search costs
    8,192 look-ups at worst; in practice two or three a pixel."""
    cdef uint16_t *stack = c.path  # the codes of the match being walked
    cdef uint16_t *forks = c.forks  # the depths whose own index is still to be tried, deepest last
    cdef uint16_t *height = c.height
    cdef uint32_t t = <uint32_t>c.transparent, node, child
    cdef uint8_t roots[2]
    cdef int n_roots = 1, r, d, longest = 0, n_forks = 0
    cdef Py_ssize_t q
    roots[0] = data[p]
    if either(c, data, p):
        roots[0], roots[1], n_roots = <uint8_t>t, data[p], 2
    for r in range(n_roots):
        d = 0
        child = roots[r]  # (a root may be 0, no entry is)
        while True:
            if child != 0 or d == 0:  # one pixel longer: on down, by the first values found
                stack[d] = <uint16_t>child
                d += 1
                if d > longest:
                    best[0] = child
                    longest = d
                    if longest == n - p:
                        return longest  # as long as can be
                node = child
                child = 0
                q = p + d  # the pixel after the match
                if q < n and d + height[node] > longest:
                    if either(c, data, q):
                        child = lookup(c, node, t)
                        if child != 0:
                            forks[n_forks] = <uint16_t>d
                            n_forks += 1
                    if child == 0:
                        child = lookup(c, node, data[q])
                continue
            # Back to the deepest code whose own index is still to be tried at the next pixel.
            if n_forks == 0:
                break
            n_forks -= 1
            d = forks[n_forks]
            node = stack[d - 1]
            if d + height[node] > longest:
                child = lookup(c, node, data[p + d])
    return longest


cdef void choice_step(Coder *c, const uint8_t *data, Py_ssize_t n, int lookahead,
                      Out *out) noexcept nogil:
    """``step`` with a choice at some pixels: the longest match allowing either value there.
    The last code's entry is its string plus this code's first pixel, which this search
    decides: meanwhile it is taken to be the last code's own first pixel (so that in a run
    this code may be that very entry, as a decoder allows), and moved when this code starts
    otherwise."""
    cdef Py_ssize_t p = c.pos
    cdef int longest, size, length, reach, further, i, last = c.pending
    cdef uint32_t best, code, guess = 0
    cdef bint provisional = False
    if last >= 0:
        guess = c.first[last]
        # Only a match that starts as the last code did can be its entry (taking it in or not
        # changes no search's result otherwise: the heights it raises only steer the pruning).
        if guess == data[p] or (guess == <uint32_t>c.transparent and either(c, data, p)):
            provisional = add(c, last, guess, c.reserved)
    longest = search(c, data, n, p, &best)
    if last >= 0:
        if c.first[best] != guess:
            if provisional:
                remove_last(c)
            add(c, last, c.first[best], c.reserved)
        c.pending = -1
    size = longest
    if lookahead > 0 and p + longest < n:
        reach = -1
        length = longest
        while length >= 1 and length >= longest - lookahead:
            further = length + search(c, data, n, p + length, &code)
            if further > reach:
                reach = further
                size = length
            length -= 1
    code = best
    for i in range(longest - size):
        code = c.prefix[code]
    emit(c, out, code)
    c.pos = p + size
    if c.next_code < MAX_CODES:
        if c.pos < n:
            c.pending = <int>code
            c.reserved = c.next_code
        c.next_code += 1


# Direct tables (``child``, all zero) kept from one call to the next, for a coder and its
# trial: zeroing a fresh one (64-512 KB) took most of a small frame's time; one is zeroed
# again entry by entry from its log. Taken and given back with the GIL held, so each is one
# call's at a time (another thread's call makes its own). They stay for the process's life
# (the pages a table touched, at most 2 x 512 KB).
cdef uint16_t *kept[2]
kept[0] = kept[1] = NULL


cdef uint16_t *take_child() noexcept:
    """A zeroed direct table of the largest size (the GIL held); NULL if out of memory."""
    cdef uint16_t *t
    cdef int i
    for i in range(2):
        if kept[i] != NULL:
            t = kept[i]
            kept[i] = NULL
            return t
    return <uint16_t *>calloc(MAX_CODES << DIRECT_BITS, sizeof(uint16_t))


cdef void give_child(uint16_t *t) noexcept:
    """Keep ``t`` (zeroed again) for the next call, or free it (the GIL held)."""
    cdef int i
    if t == NULL:
        return
    for i in range(2):
        if kept[i] == NULL:
            kept[i] = t
            return
    free(t)


cdef bint make_coder(Coder *c, int min_bits) noexcept nogil:
    """Allocate ``c``'s buffers; ``c.child``, when set, is a direct table (all zero)."""
    cdef int i
    cdef bint ok
    c.min_bits = min_bits
    c.path = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
    c.codes = <uint16_t *>malloc(RECORDED * sizeof(uint16_t))
    c.widths = <uint8_t *>malloc(RECORDED)
    ok = c.path != NULL and c.codes != NULL and c.widths != NULL
    if c.child != NULL:
        c.log = <uint32_t *>malloc(MAX_CODES * sizeof(uint32_t))
        ok = ok and c.log != NULL
    else:
        c.slots = <uint32_t *>malloc(SLOTS * sizeof(uint32_t))
        ok = ok and c.slots != NULL
    c.n_log = 0
    for i in range(MAX_LOOKAHEAD + 1):
        c.spare[i] = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
        ok = ok and c.spare[i] != NULL
    if c.choice != NULL:
        c.prefix = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
        c.first = <uint8_t *>malloc(MAX_CODES)
        c.forks = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
        c.height = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
        ok = ok and c.prefix != NULL and c.first != NULL and c.forks != NULL and c.height != NULL
        if c.child == NULL:
            c.to_t = <uint16_t *>malloc(MAX_CODES * sizeof(uint16_t))
            ok = ok and c.to_t != NULL
        if ok:
            for i in range(1 << min_bits):
                c.first[i] = <uint8_t>i
    return ok


cdef void free_coder(Coder *c) noexcept nogil:
    """Free ``c``'s buffers but its direct table, zeroed again for ``give_child``."""
    cdef int i
    if c.child != NULL and c.log != NULL:
        clear_child(c)
    free(c.slots)
    free(c.path)
    free(c.codes)
    free(c.widths)
    free(c.log)
    free(c.prefix)
    free(c.first)
    free(c.forks)
    free(c.height)
    free(c.to_t)
    for i in range(MAX_LOOKAHEAD + 1):
        free(c.spare[i])


cdef inline void advance(Coder *c, const uint8_t *data, Py_ssize_t n, int lookahead,
                         Out *out) noexcept nogil:
    if c.choice != NULL:
        choice_step(c, data, n, lookahead, out)
    elif lookahead:
        step(c, data, n, lookahead, out)
    else:
        greedy_step(c, data, n, out)


cdef Py_ssize_t encode_raw(const uint8_t *data, Py_ssize_t n, int min_bits, int lookahead,
                           int policy, Out *out, Coder *coder, Coder *trial) noexcept nogil:
    """The codes of the whole image into ``out``; its length in bytes."""
    cdef uint32_t clear = 1 << min_bits
    cdef Py_ssize_t last = 0, cycle_start = 0, cycle_pos = 0, cycle_bits = 0, cycle_pixels = 0
    cdef Py_ssize_t mark = 0, i
    cdef long long mean = 0, d  # pixels a code, a running mean (16 fraction bits)
    cdef bint full = False, trying = False
    cdef Coder *t
    put(out, clear, min_bits + 1)
    reset(coder, 0)
    coder.record = False
    trial.record = True
    while coder.pos < n:
        advance(coder, data, n, lookahead, out)
        if policy == HEURISTIC:
            d = ((coder.pos - last) << 16) - mean
            mean += d >> MEAN_SHIFT if d >= 0 else -((-d) >> MEAN_SHIFT)  # (C's >> of < 0)
            last = coder.pos
        elif policy == RACE:
            if not trying:
                if coder.next_code >= MAX_CODES and coder.pos < n:
                    reset(trial, coder.pos)
                    mark = out.bits
                    trying = True
                continue
            while trial.pos < n and trial.pos < coder.pos:
                advance(trial, data, n, lookahead, out)
            if trial.bits + 12 <= out.bits - mark:  # the clear (12 bits: table full) pays
                truncate(out, mark)
                put(out, clear, 12)
                for i in range(trial.n_codes):
                    put(out, trial.codes[i], trial.widths[i])
                t = coder
                coder = trial
                trial = t
                coder.record = False
                trial.record = True
                trying = False
            elif coder.pos >= n:
                trying = False
            elif trial.next_code >= MAX_CODES:  # a full table of its own, no better: from here
                reset(trial, coder.pos)
                mark = out.bits
            continue
        if coder.next_code < MAX_CODES or coder.pos >= n:
            continue
        if policy == EAGER:
            put(out, clear, 12)
            reset(coder, coder.pos)
            continue
        if not full:  # what a fresh table cost, on average, from its clear to full
            full = True
            cycle_bits = out.bits - cycle_start
            cycle_pixels = coder.pos - cycle_pos
        # Clear once the full table's recent codes (12 bits each) cost more a pixel than
        # the fresh table's whole cycle did, unless the image is nearly done.
        if (12 * cycle_pixels) << 16 > cycle_bits * mean and (n - coder.pos) << 16 > REMAIN * mean:
            put(out, clear, 12)
            reset(coder, coder.pos)
            full = False
            cycle_start = out.bits
            cycle_pos = coder.pos
    put(out, clear + 1, width_of(coder))
    if out.n_acc:
        out.buf[out.size] = <uint8_t>out.acc
        out.size += 1
    return out.size


def encode(const uint8_t[::1] indices, int lookahead=0, str clear="heuristic",
           const uint8_t[::1] choice=None, int transparent=-1):
    """GIF image data for ``indices`` (one byte a pixel, row-major): the LZW minimum code size
    byte, the codes in sub-blocks of up to 255 bytes, and the empty block that ends them.

    lookahead : how many pixels shorter than the longest match a code may be (0: greedy)
    clear : what happens when the table is full: "eager", a clear code at once; "heuristic",
        the full table kept while its codes cost no more a pixel than the fresh table's cycle
        did (and to the end when fewer than 1000 codes are left); "race", the full table kept
        while a trial coder, started afresh at that point, has not yet coded as far for fewer
        bits (twice the work while the table is full)
    choice : a bit a pixel (pixel i in bit i % 8 of byte i // 8, the lowest first), set where
        the pixel may be written as ``transparent`` instead of its index (a delta frame's
        unchanged pixel, which shows the same either way): each match is then the longest
        allowing either (see ``choice_step``). Without one pixel that may be either, or None:
        no choice.

    Releases the GIL while it works.
    """
    cdef int policy
    if clear == "heuristic":
        policy = HEURISTIC
    elif clear == "race":
        policy = RACE
    elif clear == "eager":
        policy = EAGER
    else:
        raise ValueError(f"clear must be 'heuristic', 'race' or 'eager', not {clear!r}")
    if not 0 <= lookahead <= MAX_LOOKAHEAD:
        raise ValueError(f"lookahead must be 0..{MAX_LOOKAHEAD}, not {lookahead}")
    cdef Py_ssize_t n = indices.shape[0], i, raw, size, at, chunk
    if choice is not None:
        if choice.shape[0] != (n + 7) // 8:
            raise ValueError(f"choice needs {(n + 7) // 8} bytes for {n} pixels, not "
                             f"{choice.shape[0]}")
        if not 0 <= transparent <= 255:
            raise ValueError(f"a choice needs a transparent index 0..255, not {transparent}")
    cdef const uint8_t *data = &indices[0] if n else NULL
    cdef int top = 0, min_bits = 2
    cdef Coder coder, trial
    cdef Out out
    cdef bint ok, direct
    cdef uint8_t *dst
    memset(&coder, 0, sizeof(Coder))
    memset(&trial, 0, sizeof(Coder))
    with nogil:
        for i in range(n):
            if data[i] > top:
                top = data[i]
            if choice is not None and coder.choice == NULL and data[i] != transparent and (
                    choice[i >> 3] >> (i & 7)) & 1:
                coder.choice = trial.choice = &choice[0]
                coder.transparent = trial.transparent = transparent
        if coder.choice != NULL and transparent > top:
            top = transparent
        while (1 << min_bits) <= top:
            min_bits += 1
    direct = min_bits <= DIRECT_BITS
    if direct:
        coder.child = take_child()
        if policy == RACE:
            trial.child = take_child()
    with nogil:
        # Every code covers a pixel or more, and a clear follows 3,800 codes or more.
        size = 2 * n + 64
        out.buf = <uint8_t *>malloc(size)
        out.size = out.bits = out.acc = out.n_acc = 0
        ok = not direct or (coder.child != NULL and (policy != RACE or trial.child != NULL))
        ok = make_coder(&coder, min_bits) and ok and out.buf != NULL
        ok = make_coder(&trial, min_bits) and ok
        if ok:
            raw = encode_raw(data, n, min_bits, lookahead, policy, &out, &coder, &trial)
        free_coder(&coder)
        free_coder(&trial)
    give_child(coder.child)
    give_child(trial.child)
    if not ok:
        free(out.buf)
        raise MemoryError
    result = PyBytes_FromStringAndSize(NULL, 1 + raw + (raw + 254) // 255 + 1)
    dst = <uint8_t *>PyBytes_AS_STRING(result)
    with nogil:
        dst[0] = <uint8_t>min_bits
        at = 1
        i = 0
        while i < raw:
            chunk = raw - i if raw - i < 255 else 255
            dst[at] = <uint8_t>chunk
            memcpy(dst + at + 1, out.buf + i, chunk)
            at += chunk + 1
            i += chunk
        dst[at] = 0
        free(out.buf)
    return result
