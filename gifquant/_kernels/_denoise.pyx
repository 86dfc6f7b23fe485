# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled per-pixel loops of ``gifquant._denoise`` (its numpy functions are the reference)."""

from libc.math cimport floor
from libc.string cimport memcpy
cimport cython

import numpy as np

DEF MEMORY_MAX = 250  # the longest running mean (its count is a byte)

cdef extern from *:
    """
    /* The denoiser's step on 4 pixels at a time, for x86-64 CPUs with AVX2 (asked at run time:
       the wheel still runs on the baseline, with the scalar _hold_run). In C: a function
       compiled for AVX2 needs gcc's or clang's target attribute, which Cython cannot put on its
       own. No "fma" in the target: every product is rounded before its sum, as in numpy. The
       arithmetic is _hold_run's, operation for operation, in float64 (four doubles a vector),
       with its branches as selects; a frame's channel is a 32-bit lane's byte, shifted out. */
    #include <stdint.h>
    #include <string.h>
    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #include <immintrin.h>
    #define GQ_AVX2_BUILT 1
    #define GQ_CH(v, c) _mm_and_si128(_mm_srli_epi32((v), 8 * (c)), _mm_set1_epi32(0xFF))
    #define GQ_SQ(a) _mm256_mul_pd((a), (a))
    __attribute__((target("avx2")))
    static inline __m256d gq_mask_pd(__m128i m) {  /* 4 int32 masks -> 4 double masks */
        return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(m));
    }
    __attribute__((target("avx2")))
    static inline __m128i gq_mask_epi32(__m256d m) {  /* 4 double masks -> 4 int32 masks */
        __m256i lo = _mm256_permutevar8x32_epi32(_mm256_castpd_si256(m),
                                                 _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
        return _mm256_castsi256_si128(lo);
    }
    __attribute__((target("avx2")))
    static long long gq_hold_avx2(const uint8_t* f0, const uint8_t* const* ahead,
                                  const int* ok, int lim, double thr_s, double persist2,
                                  double q2, int memory, const double* inv, float* mean,
                                  uint8_t* count, uint8_t* shown, Py_ssize_t n) {
        Py_ssize_t x;
        int i, c;
        long long held = 0;
        const __m128i limv = _mm_set1_epi32(lim), one = _mm_set1_epi32(1);
        const __m128i memv = _mm_set1_epi32(memory), zero = _mm_setzero_si128();
        const __m128i alpha = _mm_set1_epi32((int)0xFF000000u);
        const __m256d thr_sv = _mm256_set1_pd(thr_s), p2 = _mm256_set1_pd(persist2);
        const __m256d q2v = _mm256_set1_pd(q2), half = _mm256_set1_pd(0.5);
        __m128i okv[3];
        for (i = 0; i < 3; i++) okv[i] = _mm_set1_epi32(ok[i] ? -1 : 0);
        for (x = 0; x + 4 <= n; x += 4) {
            __m128i px = _mm_loadu_si128((const __m128i*)(f0 + 4 * x));
            __m128i xi[3], g[3], go = _mm_set1_epi32(-1), r = one;
            for (c = 0; c < 3; c++) g[c] = xi[c] = GQ_CH(px, c);
            /* The look-ahead's agreeing run, in whole numbers (go: -1 while it agrees). */
            for (i = 0; i < 3; i++) {
                __m128i p = _mm_loadu_si128((const __m128i*)(ahead[i] + 4 * x));
                __m128i d2 = zero, a[3];
                for (c = 0; c < 3; c++) {
                    __m128i d = _mm_sub_epi32(a[c] = GQ_CH(p, c), xi[c]);
                    d2 = _mm_add_epi32(d2, _mm_mullo_epi32(d, d));
                }
                go = _mm_and_si128(go, _mm_andnot_si128(_mm_cmpgt_epi32(d2, limv), okv[i]));
                r = _mm_sub_epi32(r, go);
                for (c = 0; c < 3; c++) g[c] = _mm_add_epi32(g[c], _mm_and_si128(a[c], go));
            }
            __m256d inv_r = _mm256_i32gather_pd(inv, r, 8);
            __m256d rd = _mm256_cvtepi32_pd(r), run[3], m[3], xd[3];
            for (c = 0; c < 3; c++) {
                run[c] = _mm256_mul_pd(_mm256_cvtepi32_pd(g[c]), inv_r);
                m[c] = _mm256_cvtps_pd(_mm_setr_ps(mean[3 * x + c], mean[3 * x + 3 + c],
                                                   mean[3 * x + 6 + c], mean[3 * x + 9 + c]));
                xd[c] = _mm256_cvtepi32_pd(xi[c]);
            }
            int32_t cnt4;
            memcpy(&cnt4, count + x, 4);
            __m128i n_old = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(cnt4));
            __m256d dr = _mm256_add_pd(_mm256_add_pd(GQ_SQ(_mm256_sub_pd(run[0], m[0])),
                                                     GQ_SQ(_mm256_sub_pd(run[1], m[1]))),
                                       GQ_SQ(_mm256_sub_pd(run[2], m[2])));
            __m256d thr = _mm256_mul_pd(thr_sv, _mm256_add_pd(inv_r, _mm256_i32gather_pd(inv, n_old, 8)));
            thr = _mm256_max_pd(thr, p2);  /* thr if thr > persist2 else persist2 */
            __m256d restart = _mm256_or_pd(gq_mask_pd(_mm_cmpeq_epi32(n_old, zero)),
                                           _mm256_cmp_pd(dr, thr, _CMP_GT_OQ));
            __m128i restart_i = gq_mask_epi32(restart);
            __m128i n_new = _mm_blendv_epi8(_mm_min_epi32(_mm_add_epi32(n_old, one), memv),
                                            one, restart_i);
            __m256d inv_new = _mm256_i32gather_pd(inv, n_new, 8);
            __m256d w = _mm256_i32gather_pd(inv, _mm_add_epi32(n_new, r), 8);
            __m256d nd = _mm256_cvtepi32_pd(n_new), e[3];
            __m128 k[3];
            for (c = 0; c < 3; c++) {
                __m256d kd = _mm256_add_pd(m[c], _mm256_mul_pd(_mm256_sub_pd(xd[c], m[c]), inv_new));
                k[c] = _mm_blendv_ps(_mm256_cvtpd_ps(kd), _mm_cvtepi32_ps(xi[c]),
                                     _mm_castsi128_ps(restart_i));
                __m256d held_e = _mm256_mul_pd(_mm256_add_pd(_mm256_mul_pd(_mm256_cvtps_pd(k[c]), nd),
                                                             _mm256_mul_pd(run[c], rd)), w);
                e[c] = _mm256_blendv_pd(held_e, run[c], restart);
            }
            float kf[3][4];
            for (c = 0; c < 3; c++) _mm_storeu_ps(kf[c], k[c]);
            for (i = 0; i < 4; i++)
                for (c = 0; c < 3; c++) mean[3 * (x + i) + c] = kf[c][i];
            __m128i nb = _mm_shuffle_epi8(n_new, _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1,
                                                               -1, -1, -1, -1, -1, -1, -1, -1));
            cnt4 = _mm_cvtsi128_si32(nb);
            memcpy(count + x, &cnt4, 4);
            /* The shown value moves when the estimate leaves it by more than q. */
            __m128i sh = _mm_loadu_si128((const __m128i*)(shown + 4 * x)), v[3];
            __m256d dv = _mm256_setzero_pd();
            for (c = 0; c < 3; c++) {
                v[c] = GQ_CH(sh, c);
                __m256d d = GQ_SQ(_mm256_sub_pd(e[c], _mm256_cvtepi32_pd(v[c])));
                dv = c ? _mm256_add_pd(dv, d) : d;
            }
            __m128i move = gq_mask_epi32(_mm256_cmp_pd(dv, q2v, _CMP_GT_OQ));
            __m128i out = _mm_and_si128(px, alpha), same = _mm_set1_epi32(-1);
            for (c = 0; c < 3; c++) {
                /* floor(e + 0.5) clipped to 0..255: truncation is the floor for e + 0.5 >= 0 */
                __m128i lv = _mm256_cvttpd_epi32(_mm256_add_pd(e[c], half));
                lv = _mm_min_epi32(_mm_max_epi32(lv, zero), _mm_set1_epi32(255));
                v[c] = _mm_blendv_epi8(v[c], lv, move);
                out = _mm_or_si128(out, _mm_slli_epi32(v[c], 8 * c));
                same = _mm_and_si128(same, _mm_cmpeq_epi32(v[c], xi[c]));
            }
            _mm_storeu_si128((__m128i*)(shown + 4 * x), out);
            held += 4 - __builtin_popcount(_mm_movemask_ps(_mm_castsi128_ps(same)));
        }
        return held;
    }
    /* block_noise_sums on 8 RGBA pixels at a time (n a multiple of 8): whole numbers, so any
       order of the sums is exact. Limits over 2^31 - 1 are taken as that (no pixel's sum
       of squares is near it). */
    __attribute__((target("avx2")))
    static void gq_noise_avx2(const uint8_t* pp, const uint8_t* pc, const uint8_t* pn,
                              Py_ssize_t n, long long cap2, long long cap4, long long small4,
                              long long* e4_sum, long long* blips, long long* moving,
                              long long* n_small) {
        const __m256i m8 = _mm256_set1_epi32(0xFF), three = _mm256_set1_epi32(3);
        const __m256i cap2v = _mm256_set1_epi32(cap2 < 0x7FFFFFFF ? (int)cap2 : 0x7FFFFFFF);
        const __m256i cap4v = _mm256_set1_epi32(cap4 < 0x7FFFFFFF ? (int)cap4 : 0x7FFFFFFF);
        const __m256i small4v = _mm256_set1_epi32(small4 < 0x7FFFFFFF ? (int)small4 : 0x7FFFFFFF);
        __m256i acc_e4 = _mm256_setzero_si256(), acc_b = acc_e4, acc_m = acc_e4, acc_s = acc_e4;
        Py_ssize_t x;
        int c;
        for (x = 0; x < n; x += 8) {
            __m256i P = _mm256_loadu_si256((const __m256i*)(pp + 4 * x));
            __m256i C = _mm256_loadu_si256((const __m256i*)(pc + 4 * x));
            __m256i N = _mm256_loadu_si256((const __m256i*)(pn + 4 * x));
            __m256i e4 = _mm256_setzero_si256(), dp = e4, dn = e4;
            for (c = 0; c < 3; c++) {
                __m256i p = _mm256_and_si256(_mm256_srli_epi32(P, 8 * c), m8);
                __m256i q = _mm256_and_si256(_mm256_srli_epi32(C, 8 * c), m8);
                __m256i r = _mm256_and_si256(_mm256_srli_epi32(N, 8 * c), m8);
                __m256i lap = _mm256_sub_epi32(_mm256_sub_epi32(_mm256_add_epi32(q, q), p), r);
                __m256i a = _mm256_sub_epi32(q, p), b = _mm256_sub_epi32(r, q);
                e4 = _mm256_add_epi32(e4, _mm256_mullo_epi32(lap, lap));
                dp = _mm256_add_epi32(dp, _mm256_mullo_epi32(a, a));
                dn = _mm256_add_epi32(dn, _mm256_mullo_epi32(b, b));
            }
            __m256i mov = _mm256_or_si256(_mm256_cmpgt_epi32(dp, cap2v), _mm256_cmpgt_epi32(dn, cap2v));
            __m256i blip = _mm256_cmpgt_epi32(e4, three);  /* e4 >= 4 */
            e4 = _mm256_min_epi32(e4, cap4v);
            acc_m = _mm256_sub_epi32(acc_m, mov);
            acc_b = _mm256_sub_epi32(acc_b, blip);
            acc_e4 = _mm256_add_epi32(acc_e4, _mm256_and_si256(e4, blip));
            acc_s = _mm256_sub_epi32(acc_s, _mm256_andnot_si256(_mm256_cmpgt_epi32(e4, small4v), blip));
        }
        int32_t t[4][8];
        _mm256_storeu_si256((__m256i*)t[0], acc_e4);
        _mm256_storeu_si256((__m256i*)t[1], acc_b);
        _mm256_storeu_si256((__m256i*)t[2], acc_m);
        _mm256_storeu_si256((__m256i*)t[3], acc_s);
        for (c = 0; c < 8; c++) {
            *e4_sum += t[0][c];
            *blips += t[1][c];
            *moving += t[2][c];
            *n_small += t[3][c];
        }
    }
    static int gq_cpu_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    }
    #else
    #define GQ_AVX2_BUILT 0
    static long long gq_hold_avx2(const uint8_t* f0, const uint8_t* const* ahead,
                                  const int* ok, int lim, double thr_s, double persist2,
                                  double q2, int memory, const double* inv, float* mean,
                                  uint8_t* count, uint8_t* shown, Py_ssize_t n) { return 0; }
    static void gq_noise_avx2(const uint8_t* pp, const uint8_t* pc, const uint8_t* pn,
                              Py_ssize_t n, long long cap2, long long cap4, long long small4,
                              long long* e4_sum, long long* blips, long long* moving,
                              long long* n_small) {}
    static int gq_cpu_avx2(void) { return 0; }
    #endif
    """
    long long gq_hold_avx2(const unsigned char* f0, const unsigned char** ahead, const int* ok,
                           int lim, double thr_s, double persist2, double q2, int memory,
                           const double* inv, float* mean, unsigned char* count,
                           unsigned char* shown, Py_ssize_t n) noexcept nogil
    void gq_noise_avx2(const unsigned char* pp, const unsigned char* pc,
                       const unsigned char* pn, Py_ssize_t n, long long cap2, long long cap4,
                       long long small4, long long* e4_sum, long long* blips,
                       long long* moving, long long* n_small) noexcept nogil
    int gq_cpu_avx2() noexcept nogil

# The CPU has AVX2 and this build has the step and the noise sums compiled for it.
VECTOR_STEP = bool(gq_cpu_avx2())

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
    cdef long acc3[3]
    cdef int lo3[3]
    cdef int hi3[3]
    cdef int r
    cdef long area = s * s
    cdef Py_ssize_t sx = img.strides[1], sc = img.strides[2]
    if hs == 0 or ws == 0:
        return out_arr, detail_arr
    # A band of s rows is first folded into one row of per-column sums, minima and maxima
    # (a contiguous row's bytes, alpha too, in one vectorised loop), then each block's s
    # columns of them.
    cdef Py_ssize_t nc = img.shape[2]
    cdef bint flat = sc == 1 and sx == nc
    cdef Py_ssize_t step = nc if flat else 3
    cdef Py_ssize_t width = ws * s * step
    sum_arr = np.empty(width, np.uint32)
    lo_arr = np.empty(width, np.uint8)
    hi_arr = np.empty(width, np.uint8)
    cdef unsigned int[::1] sum_v = sum_arr
    cdef unsigned char[::1] lo_v = lo_arr
    cdef unsigned char[::1] hi_v = hi_arr
    cdef unsigned int* cs = &sum_v[0]
    cdef unsigned char* cl = &lo_v[0]
    cdef unsigned char* ch = &hi_v[0]
    cdef const unsigned char* p
    cdef unsigned char b
    with nogil:
        for y in range(hs):
            p = &img[y * s, 0, 0]
            if flat:
                for i in range(width):
                    cs[i] = p[i]
                    cl[i] = p[i]
                    ch[i] = p[i]
            else:
                for x in range(ws * s):
                    for c in range(3):
                        b = p[x * sx + c * sc]
                        cs[3 * x + c] = b
                        cl[3 * x + c] = b
                        ch[3 * x + c] = b
            for j in range(1, s):
                p = &img[y * s + j, 0, 0]
                if flat:
                    for i in range(width):
                        b = p[i]
                        cs[i] += b
                        cl[i] = b if b < cl[i] else cl[i]
                        ch[i] = b if b > ch[i] else ch[i]
                else:
                    for x in range(ws * s):
                        for c in range(3):
                            b = p[x * sx + c * sc]
                            i = 3 * x + c
                            cs[i] += b
                            cl[i] = b if b < cl[i] else cl[i]
                            ch[i] = b if b > ch[i] else ch[i]
            for x in range(ws):
                for c in range(3):
                    acc3[c] = 0
                    lo3[c] = 255
                    hi3[c] = 0
                for j in range(s):
                    i = (x * s + j) * step
                    for c in range(3):
                        acc3[c] += cs[i + c]
                        lo3[c] = cl[i + c] if cl[i + c] < lo3[c] else lo3[c]
                        hi3[c] = ch[i + c] if ch[i + c] > hi3[c] else hi3[c]
                r = 0
                for c in range(3):
                    out[y, x, c] = <unsigned char>((acc3[c] + area // 2) // area)
                    if hi3[c] - lo3[c] > r:
                        r = hi3[c] - lo3[c]
                detail[y, x] = <unsigned char>r
    return out_arr, detail_arr


cdef struct NoiseSums:
    long long e4  # (2 lap)^2 of the blips, capped
    long long blips
    long long moving


cdef struct Limits:
    long long cap2, cap4, small4


cdef inline Limits _limits(double cap, double small) noexcept:
    # Twice the second difference is a whole number: e4 = (2 lap)^2 summed, exact in integers
    # (and so is a block's sum of e4 / 4, the squared second differences, in a double).
    cdef Limits lim
    lim.cap2 = <long long>(cap * cap)
    lim.cap4 = <long long>(4 * cap * cap)
    lim.small4 = <long long>(4 * small * small)
    return lim


def _zeroed_sums(Py_ssize_t h, Py_ssize_t w, int block, tuple others):
    """The per-block sums (e4, blips, moving), (3, ceil(h / block), ceil(w / block)) int64 zeros,
    for a frame of h x w; ValueError unless ``others``' sizes (h, w) are its."""
    if any(o != (h, w) for o in others):
        raise ValueError("the three frames must have one size")
    return np.zeros((3, (h + block - 1) // block, (w + block - 1) // block), np.int64)


cdef inline void _pixel_noise(
    const unsigned char* pp, const unsigned char* pc, const unsigned char* pn,
    Py_ssize_t pcs, Py_ssize_t ccs, Py_ssize_t ncs, const Limits* lim, NoiseSums* s,
    long long* n_small,
) noexcept nogil:
    """One pixel's part of ``block_noise_sums`` (channel strides ``pcs``, ``ccs``, ``ncs``)."""
    cdef long long e4 = 0, d_prev = 0, d_next = 0, lap2, a, b
    cdef Py_ssize_t c
    for c in range(3):
        lap2 = 2 * <long long>pc[c * ccs] - pp[c * pcs] - pn[c * ncs]
        e4 = e4 + lap2 * lap2
        a = <long long>pc[c * ccs] - pp[c * pcs]
        b = <long long>pn[c * ncs] - pc[c * ccs]
        d_prev = d_prev + a * a
        d_next = d_next + b * b
    if d_prev > lim.cap2 or d_next > lim.cap2:
        s.moving += 1
    if e4 >= 4:
        if e4 > lim.cap4:
            e4 = lim.cap4
        s.e4 += e4
        s.blips += 1
        if e4 <= lim.small4:
            n_small[0] += 1


cdef inline void _add_block_row(long long[:, :, ::1] out, Py_ssize_t by, Py_ssize_t bx,
                                NoiseSums* s) noexcept nogil:
    """A block's row of pixels' sums into its block's, and ``s`` zeroed for the next: per block
    and row, not per pixel (no division and one write a block)."""
    out[0, by, bx] += s.e4
    out[1, by, bx] += s.blips
    out[2, by, bx] += s.moving
    s.e4 = s.blips = s.moving = 0


def block_noise_sums(const unsigned char[:, :, :] prev, const unsigned char[:, :, :] cur,
                     const unsigned char[:, :, :] nxt, int block, double cap, double small,
                     vector=None):
    """Per block: the sum of its blips' squared second differences (capped at ``cap``^2), their
    count, and the count of its moving pixels (changed by more than ``cap`` from ``prev`` or to
    ``nxt``); and the frame's count of blips of at most ``small`` levels. ``vector``: whether
    RGBA frames take the AVX2 loop (None: where the CPU has it)."""
    if vector is None:
        vector = VECTOR_STEP
    elif vector and not VECTOR_STEP:
        raise ValueError("this CPU or build has no AVX2 loop")
    cdef bint vec = vector
    cdef Py_ssize_t h = cur.shape[0], w = cur.shape[1], y, x, x0, x1, bx, done
    if cur.shape[2] < 3 or prev.shape[2] < 3 or nxt.shape[2] < 3:
        raise ValueError("the frames must have at least three channels")
    others = ((prev.shape[0], prev.shape[1]), (nxt.shape[0], nxt.shape[1]))
    sums_arr = _zeroed_sums(h, w, block, others)
    cdef long long[:, :, ::1] out = sums_arr
    cdef Limits lim = _limits(cap, small)
    cdef NoiseSums sums = NoiseSums(0, 0, 0)
    cdef long long n_small = 0
    cdef const unsigned char *pp, *pc, *pn
    cdef Py_ssize_t pxs = prev.strides[1], pcs = prev.strides[2]
    cdef Py_ssize_t cxs = cur.strides[1], ccs = cur.strides[2]
    cdef Py_ssize_t nxs = nxt.strides[1], ncs = nxt.strides[2]
    # RGBA frames (the usual case): the strides as constants, which the compiler folds in.
    cdef bint rgba = (pcs == 1 and ccs == 1 and ncs == 1 and pxs == 4 and cxs == 4
                      and nxs == 4)
    with nogil:
        for y in range(h):
            for bx in range(out.shape[2]):
                x0 = bx * block
                x1 = x0 + block if x0 + block < w else w
                pp = &prev[y, x0, 0]
                pc = &cur[y, x0, 0]
                pn = &nxt[y, x0, 0]
                if rgba:
                    done = 0
                    if vec:  # eight pixels at a time, the last 0-7 below
                        done = (x1 - x0) - (x1 - x0) % 8
                        gq_noise_avx2(pp, pc, pn, done, lim.cap2, lim.cap4, lim.small4,
                                      &sums.e4, &sums.blips, &sums.moving, &n_small)
                    for x in range(done, x1 - x0):
                        _pixel_noise(pp + 4 * x, pc + 4 * x, pn + 4 * x, 1, 1, 1, &lim, &sums,
                                     &n_small)
                else:
                    for x in range(x0, x1):
                        _pixel_noise(pp, pc, pn, pcs, ccs, ncs, &lim, &sums, &n_small)
                        pp += pxs
                        pc += cxs
                        pn += nxs
                _add_block_row(out, y // block, bx, &sums)
    return 0.25 * sums_arr[0], sums_arr[1], sums_arr[2], n_small


cdef inline bint _same_8(
    const unsigned char* a, const unsigned char* b, const unsigned char* c
) noexcept nogil:
    """Whether 8 bytes from each of ``a``, ``b`` and ``c`` are all alike."""
    cdef unsigned long long wa, wb, wc
    memcpy(&wa, a, 8)
    memcpy(&wb, b, 8)
    memcpy(&wc, c, 8)
    return wa == wb and wb == wc


def indexed_noise_sums(const unsigned char[:, ::1] prev, const unsigned char[:, ::1] cur,
                       const unsigned char[:, ::1] nxt, const unsigned char[:, ::1] table,
                       int block, double cap, double small):
    """``block_noise_sums`` of three frames of palette indices (h, w) that draw one colour
    ``table`` (256, >= 3): a pixel whose index is the same in the three frames has no second
    difference and does not move, so only the others are looked up (8 indices at a time are
    passed over while they are alike: nearly every pixel of a clean GIF)."""
    cdef Limits lim = _limits(cap, small)
    cdef NoiseSums sums = NoiseSums(0, 0, 0)
    cdef long long n_small = 0
    if table.shape[0] != 256 or table.shape[1] < 3:
        raise ValueError("the table must be (256, >= 3)")
    cdef Py_ssize_t h = cur.shape[0], w = cur.shape[1], y, x, x1
    cdef Py_ssize_t row = table.shape[1]
    cdef const unsigned char* colours = &table[0, 0]
    cdef const unsigned char *ip, *ic, *iN
    others = ((prev.shape[0], prev.shape[1]), (nxt.shape[0], nxt.shape[1]))
    sums_arr = _zeroed_sums(h, w, block, others)
    cdef long long[:, :, ::1] out = sums_arr
    with nogil:
        for y in range(h):
            ip = &prev[y, 0]
            ic = &cur[y, 0]
            iN = &nxt[y, 0]
            x = 0
            while x < w:
                x1 = x + block if x + block < w else w  # to the block's end
                while x < x1:
                    if x + 8 <= x1 and _same_8(ip + x, ic + x, iN + x):
                        x += 8
                    elif ip[x] == ic[x] and ic[x] == iN[x]:
                        x += 1
                    else:
                        _pixel_noise(
                            colours + ip[x] * row, colours + ic[x] * row, colours + iN[x] * row,
                            1, 1, 1, &lim, &sums, &n_small,
                        )
                        x += 1
                if sums.e4 or sums.blips or sums.moving:
                    _add_block_row(out, y // block, (x1 - 1) // block, &sums)
    return 0.25 * sums_arr[0], sums_arr[1], sums_arr[2], n_small


def block_gradient(const unsigned char[:, :, ::1] img, int block):
    """Per block, the mean over its pixels of (|dx| + |dy|) / 2 by central differences, averaged
    over the three channels: levels a pixel (border pixels count 0)."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], nc = img.shape[2], y, yb, x, c, bx, i
    cdef Py_ssize_t hb = (h + block - 1) // block, wb = (w + block - 1) // block
    cdef Py_ssize_t row = img.strides[0], x0, x1, y0, y1
    out_arr = np.zeros((hb, wb), np.int64)
    cdef long long[:, ::1] out = out_arr
    cdef long long g
    cdef const unsigned char* p
    # Whole numbers throughout: the sums and counts are exact, in any order.
    starts = np.arange(max(hb, wb)) * block
    rows, cols = np.minimum(block, h - starts[:hb]), np.minimum(block, w - starts[:wb])
    cnt_arr = np.outer(rows, cols).astype(np.float64)  # each block's pixels
    # A band of rows is summed byte by byte into one row (a contiguous row's inner bytes,
    # alpha too, in one vectorised loop), then each block's columns of its three channels.
    acc_arr = np.zeros(max(w * nc, 1), np.uint32)
    cdef unsigned int[::1] acc_v = acc_arr
    cdef unsigned int* acc = &acc_v[0]
    if h < 3 or w < 3:
        return out_arr / (6.0 * cnt_arr)
    with nogil:
        for yb in range(hb):
            y0 = yb * block if yb * block > 1 else 1
            y1 = yb * block + block if yb * block + block < h - 1 else h - 1
            if y0 >= y1:
                continue
            for i in range(nc, (w - 1) * nc):
                acc[i] = 0
            for y in range(y0, y1):
                p = &img[y, 0, 0]
                for i in range(nc, (w - 1) * nc):
                    acc[i] += abs(<int>p[i + nc] - <int>p[i - nc])
                    acc[i] += abs(<int>p[i + row] - <int>p[i - row])
            for bx in range(wb):
                x0 = bx * block if bx * block > 1 else 1
                x1 = bx * block + block if bx * block + block < w - 1 else w - 1
                g = 0
                for x in range(x0, x1):
                    for c in range(3):
                        g += acc[x * nc + c]
                out[yb, bx] += g
    return out_arr / (6.0 * cnt_arr)


cdef inline long long _hold_run(const unsigned char* f0, const unsigned char** ahead,
                                const int* ok, int lim, double thr_s, double persist2,
                                double q2, int memory, const double* inv, float* mean,
                                unsigned char* count, unsigned char* shown,
                                Py_ssize_t n) noexcept nogil:
    """``step_reference`` on a run of ``n`` pixels of one block (one sigma), in place: the
    frames' pixels (4 bytes each: ``f0`` the current frame's, ``ahead[0..2]`` the look-ahead's;
    ``ok[i]`` 1 where that frame exists, else its pointer is ``f0``) and the state's.
    ``inv[i]`` is 1.0 / i (a load: a division costs more than the rest of a pixel's
    arithmetic). Returns the pixels held."""
    cdef Py_ssize_t x
    cdef int i, x0, x1, x2, a0, a1, a2, go, r, n_old, n_new, g0, g1, g2, restart, move
    cdef const unsigned char* p
    cdef int v0, v1, v2
    cdef long long held = 0
    cdef double inv_r, inv_new, run0, run1, run2, m0, m1, m2, dr, thr, w, e0, e1, e2
    cdef float k0, k1, k2
    for x in range(n):
        x0 = f0[4 * x]
        x1 = f0[4 * x + 1]
        x2 = f0[4 * x + 2]
        # The run of look-ahead frames that agree with this one, its sum and length, in whole
        # numbers and without a branch (a squared distance of whole numbers is within 32 s^2
        # when within its floor, lim).
        go, r, g0, g1, g2 = 1, 1, x0, x1, x2
        for i in range(3):  # (unrolled by gcc)
            p = ahead[i] + 4 * x
            a0 = p[0] - x0
            a1 = p[1] - x1
            a2 = p[2] - x2
            go = go & ok[i] & (a0 * a0 + a1 * a1 + a2 * a2 <= lim)
            r = r + go
            g0 = g0 + go * p[0]
            g1 = g1 + go * p[1]
            g2 = g2 + go * p[2]
        inv_r = inv[r]
        run0 = g0 * inv_r
        run1 = g1 * inv_r
        run2 = g2 * inv_r
        # Restart from the source, or the running mean goes on.
        m0 = mean[3 * x]
        m1 = mean[3 * x + 1]
        m2 = mean[3 * x + 2]
        n_old = count[x]
        dr = (run0 - m0) * (run0 - m0) + (run1 - m1) * (run1 - m1) + (run2 - m2) * (run2 - m2)
        thr = thr_s * (inv_r + inv[n_old])  # a count of 0 restarts anyway
        thr = thr if thr > persist2 else persist2
        restart = (n_old == 0) | (dr > thr)
        n_new = 1 if restart else (n_old + 1 if n_old < memory else memory)
        inv_new = inv[n_new]
        k0 = <float>(m0 + (x0 - m0) * inv_new)
        k1 = <float>(m1 + (x1 - m1) * inv_new)
        k2 = <float>(m2 + (x2 - m2) * inv_new)
        k0 = <float>x0 if restart else k0
        k1 = <float>x1 if restart else k1
        k2 = <float>x2 if restart else k2
        w = inv[n_new + r]
        e0 = run0 if restart else (<double>k0 * n_new + run0 * r) * w
        e1 = run1 if restart else (<double>k1 * n_new + run1 * r) * w
        e2 = run2 if restart else (<double>k2 * n_new + run2 * r) * w
        mean[3 * x] = k0
        mean[3 * x + 1] = k1
        mean[3 * x + 2] = k2
        count[x] = <unsigned char>n_new
        # The shown value moves when the estimate leaves it by more than q.
        v0 = shown[4 * x]
        v1 = shown[4 * x + 1]
        v2 = shown[4 * x + 2]
        move = (e0 - v0) * (e0 - v0) + (e1 - v1) * (e1 - v1) + (e2 - v2) * (e2 - v2) > q2
        v0 = _level(e0) if move else v0
        v1 = _level(e1) if move else v1
        v2 = _level(e2) if move else v2
        shown[4 * x] = <unsigned char>v0
        shown[4 * x + 1] = <unsigned char>v1
        shown[4 * x + 2] = <unsigned char>v2
        shown[4 * x + 3] = f0[4 * x + 3]
        held += (v0 != x0) | (v1 != x1) | (v2 != x2)
    return held


cdef inline int _level(double e) noexcept nogil:
    # floor(e + 0.5) clipped to 0..255: truncation is the floor for e + 0.5 >= 0, and below
    # that both clip to 0.
    cdef int v = <int>(e + 0.5)
    return 0 if v < 0 else (255 if v > 255 else v)


def denoise_step(list window, const float[:, ::1] blocks, const unsigned char[:, ::1] tight,
                 int block, float[:, :, ::1] mean, unsigned char[:, ::1] count,
                 unsigned char[:, :, ::1] shown, double persist, double shown_min,
                 double shown_max, double tight_level, int memory, vector=None):
    """One frame of ``_denoise.step_reference``'s maths on the state, in place; returns the
    pixels held. ``window``: 1 to 4 frames (h, w, 4) uint8, C-contiguous, of one shape;
    ``blocks``: the per-block sigma; ``tight``: per block, 1 where it is smooth (a steady shift
    of more than ``tight_level`` levels restarts a pixel there, and its shown value moves at
    that); ``shown``: (h, w, 4), its alpha copied from the frame; the rest are ``_denoise``'s
    constants of the same names. ``vector``: whether the AVX2 copy of the loop runs (None:
    where the CPU has it)."""
    if vector is None:
        vector = VECTOR_STEP
    elif vector and not VECTOR_STEP:
        raise ValueError("this CPU or build has no AVX2 step")
    cdef bint vec = vector
    cdef Py_ssize_t done
    cdef int L = len(window)
    if not 1 <= L <= 4:
        raise ValueError("window must hold 1 to 4 frames")
    if not 1 <= memory <= MEMORY_MAX:
        raise ValueError(f"memory must be 1..{MEMORY_MAX}")
    cdef Py_ssize_t h = mean.shape[0], w = mean.shape[1], y, x, bx, x0, n, wb
    cdef const unsigned char[:, :, ::1] fv_
    cdef const unsigned char* base[4]
    cdef const unsigned char* ahead[3]
    cdef int ok[4]
    cdef int i
    for i in range(L):
        fv_ = window[i]
        if fv_.shape[0] != h or fv_.shape[1] != w or fv_.shape[2] != 4:
            raise ValueError("the window's frames must be (h, w, 4) of the state's size")
        base[i] = &fv_[0, 0, 0] if h * w else NULL
    for i in range(4):
        ok[i] = i < L
        if i >= L:
            base[i] = base[0]  # read, never counted (ok 0)
    if (count.shape[0] != h or count.shape[1] != w or shown.shape[0] != h
            or shown.shape[1] != w or shown.shape[2] != 4 or mean.shape[2] != 3):
        raise ValueError("the state's arrays must be (h, w, 3), (h, w) and (h, w, 4)")
    wb = (w + block - 1) // block
    if blocks.shape[0] != (h + block - 1) // block or blocks.shape[1] != wb:
        raise ValueError("blocks must be (ceil(h / block), ceil(w / block))")
    if tight.shape[0] != blocks.shape[0] or tight.shape[1] != wb:
        raise ValueError("tight must be the shape of blocks")
    cdef double s, s2, q, persist2, q_min, lim_d
    cdef int lim
    cdef long long held = 0
    cdef const unsigned char* p
    cdef Py_ssize_t o
    # Reciprocals of the counts, as the reference multiplies by them (inv[0] is never used).
    cdef double inv[MEMORY_MAX + 5]
    inv[0] = 0
    for i in range(1, MEMORY_MAX + 5):
        inv[i] = 1.0 / i
    if h == 0 or w == 0:
        return 0
    with nogil:
        for y in range(h):
            for bx in range(wb):
                x0 = bx * block
                n = block if x0 + block <= w else w - x0
                o = y * w + x0
                s = blocks[y // block, bx]
                if s == 0:  # a moving block: the source as it comes, the look-ahead unread
                    p = base[0] + 4 * o
                    for x in range(n):
                        mean[y, x0 + x, 0] = p[4 * x]
                        mean[y, x0 + x, 1] = p[4 * x + 1]
                        mean[y, x0 + x, 2] = p[4 * x + 2]
                        count[y, x0 + x] = 1
                    memcpy(&shown[y, x0, 0], p, 4 * n)
                    continue
                s2 = s * s
                if tight[y // block, bx]:
                    persist2, q_min = tight_level * tight_level, tight_level
                else:
                    persist2, q_min = persist * persist, shown_min
                q = q_min if s < q_min else (shown_max if s > shown_max else s)
                # A squared distance of whole numbers is within 32 s^2 when within its floor
                # (no pixel's is over 3 * 255^2).
                lim_d = 32 * s2
                lim = <int>floor(lim_d) if lim_d < 200000 else 200000
                done = 0
                if vec:  # four pixels at a time, the last 0-3 below
                    for i in range(3):
                        ahead[i] = base[i + 1] + 4 * o
                    done = n - n % 4
                    held += gq_hold_avx2(
                        base[0] + 4 * o, ahead, &ok[1], lim, 16 * s2, persist2, q * q, memory,
                        inv, &mean[y, x0, 0], &count[y, x0], &shown[y, x0, 0], done)
                if done < n:
                    for i in range(3):
                        ahead[i] = base[i + 1] + 4 * (o + done)
                    held += _hold_run(
                        base[0] + 4 * (o + done), ahead, &ok[1], lim, 16 * s2, persist2, q * q,
                        memory, inv, &mean[y, x0 + done, 0], &count[y, x0 + done],
                        &shown[y, x0 + done, 0], n - done)
    return held


def block_sums(const unsigned char[:, :, :] img, int block):
    """Each ``block`` x ``block`` block's sum of each of the first (at most) three channels,
    (ceil(h / block), ceil(w / block), min(c, 3)) int64; edge blocks sum the pixels they have."""
    cdef Py_ssize_t h = img.shape[0], w = img.shape[1], y, yb, y0, y1, x, bx, c, i
    cdef Py_ssize_t hb = (h + block - 1) // block, wb = (w + block - 1) // block
    cdef Py_ssize_t nc = img.shape[2] if img.shape[2] < 3 else 3
    cdef Py_ssize_t sx = img.strides[1], sc = img.strides[2]
    out_arr = np.zeros((hb, wb, nc), np.int64)
    cdef long long[:, :, ::1] out = out_arr
    if h == 0 or w == 0 or nc == 0:
        return out_arr
    # A band of ``block`` rows is first summed row by row into one row of sums, then each
    # block's columns: a whole row of contiguous bytes is one vectorised loop (alpha summed
    # too, and dropped), not a short strided loop per block and channel.
    cdef bint flat = sc == 1 and sx == img.shape[2]
    cdef Py_ssize_t width = w * img.shape[2] if flat else w * nc
    acc_arr = np.empty(width, np.uint32)
    cdef unsigned int[::1] acc = acc_arr
    cdef unsigned int* a = &acc[0]
    cdef const unsigned char* p
    cdef Py_ssize_t step = img.shape[2] if flat else nc
    cdef long long t
    with nogil:
        for yb in range(hb):
            y0 = yb * block
            y1 = y0 + block if y0 + block < h else h
            for i in range(width):
                a[i] = 0
            for y in range(y0, y1):
                p = &img[y, 0, 0]
                if flat:
                    for i in range(width):
                        a[i] += p[i]
                else:
                    for x in range(w):
                        for c in range(nc):
                            a[x * nc + c] += p[x * sx + c * sc]
            for bx in range(wb):
                for c in range(nc):
                    t = 0
                    for x in range(bx * block, min(bx * block + block, w)):
                        t += a[x * step + c]
                    out[yb, bx, c] = t
    return out_arr
