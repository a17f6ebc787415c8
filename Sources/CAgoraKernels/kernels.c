// AVX2 integer kernels. Only the integer block sums use SIMD; they are exact, so any
// instruction sequence gives the same result. The float part is written out in the same order
// as the Swift reference, with contraction disabled, so the rounding matches bit for bit.
#pragma clang fp contract(off)

#include "agora_kernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AGORA_X86 1
#endif

static inline float half_to_float(const uint8_t *p) {
    uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) { bits = sign; }
        else {
            float m = (float)mantissa * 5.9604644775390625e-08f;
            return sign ? -m : m;
        }
    } else if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline void k_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) { *sc = q[j] & 63; *m = q[j + 4] & 63; }
    else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

#if AGORA_X86
int agora_cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2")))
static inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// Sum of u8 * s8 products of 32 pairs (u8 values below 64 so the pairwise i16 sums never saturate).
__attribute__((target("avx2")))
static inline int32_t dot_u8_s8(__m256i u, __m256i s) {
    __m256i p16 = _mm256_maddubs_epi16(u, s);
    return hsum_i32(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// Sixteen nibbles from 16 bytes: low nibbles first, then high nibbles (ggml's Q4 layout).
__attribute__((target("avx2")))
static inline __m256i unpack_nibbles(const uint8_t *p) {
    __m128i b = _mm_loadu_si128((const __m128i *)p);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0F));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F));
    return _mm256_set_m128i(hi, lo);
}

__attribute__((target("avx2")))
float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    (void)xs;
    float acc = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + b * 34;
        __m256i wv = _mm256_loadu_si256((const __m256i *)(blk + 2));
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
        // |w| * (x with w's sign): maddubs needs an unsigned first operand.
        __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv));
        int32_t isum = hsum_i32(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
        acc = acc + (float)isum * (half_to_float(blk) * xd[b]);
    }
    return acc;
}

__attribute__((target("avx2")))
static inline int32_t sum_i8(__m256i x) {
    return hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), x), _mm256_set1_epi16(1)));
}

__attribute__((target("avx2")))
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    (void)xs;
    float acc = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + b * 18;
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
        // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), exactly.
        int32_t isum = dot_u8_s8(unpack_nibbles(blk + 2), xv) - 8 * sum_i8(xv);
        acc = acc + (float)isum * (half_to_float(blk) * xd[b]);
    }
    return acc;
}

__attribute__((target("avx2")))
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    float acc = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + b * 20;
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
        int32_t isum = dot_u8_s8(unpack_nibbles(blk + 4), xv);
        acc = acc + (float)isum * (half_to_float(blk) * xd[b]);
        acc = acc + half_to_float(blk + 2) * xs[b];
    }
    return acc;
}

// Shared body of Q4_K and Q5_K: per super-block, sum(scale_j * q.x) and sum(min_j * sum(x)).
__attribute__((target("avx2")))
static inline float dot_qk(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n, int high_bits) {
    float acc = 0.0f;
    const int block_bytes = high_bits ? 176 : 144;
    for (int sb = 0; sb < n / 256; sb++) {
        const uint8_t *blk = w + sb * block_bytes;
        const uint8_t *scales = blk + 4;
        const uint8_t *qs = blk + (high_bits ? 48 : 16);
        __m256i qh = high_bits ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
        int32_t scaled = 0, offsets = 0;
        for (int j = 0; j < 8; j++) {
            // Sub-blocks 2k and 2k+1 share 32 bytes: low nibbles, then high nibbles.
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(qs + (j / 2) * 32));
            __m256i q = (j & 1) ? _mm256_and_si256(_mm256_srli_epi16(bytes, 4), _mm256_set1_epi8(0x0F))
                                : _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
            if (high_bits) {
                // Fifth bit of sub-block j is bit j of each qh byte.
                __m256i mask = _mm256_set1_epi8((char)(1 << j));
                __m256i bit = _mm256_cmpeq_epi8(_mm256_and_si256(qh, mask), mask);
                q = _mm256_or_si256(q, _mm256_and_si256(bit, _mm256_set1_epi8(16)));
            }
            int32_t isum = dot_u8_s8(q, _mm256_loadu_si256((const __m256i *)(xq + sb * 256 + j * 32)));
            int sc, m;
            k_scale_min(j, scales, &sc, &m);
            scaled += sc * isum;
            offsets += m * (bsums[sb * 16 + 2 * j] + bsums[sb * 16 + 2 * j + 1]);
        }
        acc = acc + (xd[sb] * half_to_float(blk)) * (float)scaled;
        acc = acc - (xd[sb] * half_to_float(blk + 2)) * (float)offsets;
    }
    return acc;
}

__attribute__((target("avx2")))
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    return dot_qk(w, xq, xd, bsums, n, 0);
}

__attribute__((target("avx2")))
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    return dot_qk(w, xq, xd, bsums, n, 1);
}

__attribute__((target("avx2")))
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    float acc = 0.0f;
    for (int sb = 0; sb < n / 256; sb++) {
        const uint8_t *blk = w + sb * 210;
        const int8_t *scales = (const int8_t *)(blk + 192);
        int32_t total = 0;
        for (int j = 0; j < 8; j++) {  // runs of 32 values: two 16-value sub-blocks each
            int half = j / 4, quarter = j % 4;
            __m256i lb = _mm256_loadu_si256((const __m256i *)(blk + half * 64 + (quarter & 1) * 32));
            __m256i low = (quarter >= 2) ? _mm256_and_si256(_mm256_srli_epi16(lb, 4), _mm256_set1_epi8(0x0F))
                                         : _mm256_and_si256(lb, _mm256_set1_epi8(0x0F));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(blk + 128 + half * 32));
            __m256i high = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(2 * quarter)), _mm256_set1_epi8(3));
            __m256i q = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + sb * 256 + j * 32));
            __m256i p32 = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), _mm256_set1_epi16(1));
            __m128i lo = _mm256_castsi256_si128(p32), hi = _mm256_extracti128_si256(p32, 1);
            lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E)); lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
            hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0x4E)); hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0xB1));
            // sum((q - 32) * x) = sum(q * x) - 32 * sum(x) per 16-value sub-block, exactly.
            int s0 = 2 * j, s1 = 2 * j + 1;
            total += scales[s0] * (_mm_cvtsi128_si32(lo) - 32 * bsums[sb * 16 + s0]);
            total += scales[s1] * (_mm_cvtsi128_si32(hi) - 32 * bsums[sb * 16 + s1]);
        }
        acc = acc + (xd[sb] * half_to_float(blk + 208)) * (float)total;
    }
    return acc;
}

// MARK: batched kernels, one row at a time (the rows left over from groups of eight)

__attribute__((target("avx2")))
static void matmul_rows_q8_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    (void)xs;
    const int nb = n / 32;
    float acc[AGORA_MAX_BATCH_TOKENS];
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 34;
            __m256i wv = _mm256_loadu_si256((const __m256i *)(blk + 2));
            __m256i wabs = _mm256_sign_epi8(wv, wv);
            float dw = half_to_float(blk);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                __m256i p16 = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv, wv));
                int32_t isum = hsum_i32(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
                acc[t] = acc[t] + (float)isum * (dw * xd[t * nb + b]);
            }
        }
        for (int t = 0; t < tokens; t++) out[t * out_stride + r] = acc[t];
    }
}

__attribute__((target("avx2")))
static void matmul_rows_q4_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    (void)xs;
    const int nb = n / 32;
    float acc[AGORA_MAX_BATCH_TOKENS];
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 18;
            __m256i q = unpack_nibbles(blk + 2);
            float dw = half_to_float(blk);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                int32_t isum = dot_u8_s8(q, xv) - 8 * sum_i8(xv);
                acc[t] = acc[t] + (float)isum * (dw * xd[t * nb + b]);
            }
        }
        for (int t = 0; t < tokens; t++) out[t * out_stride + r] = acc[t];
    }
}

__attribute__((target("avx2")))
static void matmul_rows_q4_1(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    float acc[AGORA_MAX_BATCH_TOKENS];
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *blk = row + b * 20;
            __m256i q = unpack_nibbles(blk + 4);
            float dw = half_to_float(blk), mw = half_to_float(blk + 2);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                int32_t isum = dot_u8_s8(q, xv);
                acc[t] = acc[t] + (float)isum * (dw * xd[t * nb + b]);
                acc[t] = acc[t] + mw * xs[t * nb + b];
            }
        }
        for (int t = 0; t < tokens; t++) out[t * out_stride + r] = acc[t];
    }
}
// MARK: eight rows at a time

// Sums of eight vectors of eight int32 partials: lane j holds the total of p[j].
__attribute__((target("avx2")))
static inline __m256i reduce8(__m256i p0, __m256i p1, __m256i p2, __m256i p3, __m256i p4, __m256i p5, __m256i p6, __m256i p7) {
    __m256i t0 = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    __m256i t1 = _mm256_hadd_epi32(_mm256_hadd_epi32(p4, p5), _mm256_hadd_epi32(p6, p7));
    __m128i u0 = _mm_add_epi32(_mm256_castsi256_si128(t0), _mm256_extracti128_si256(t0, 1));
    __m128i u1 = _mm_add_epi32(_mm256_castsi256_si128(t1), _mm256_extracti128_si256(t1, 1));
    return _mm256_set_m128i(u1, u0);
}

// Eight fp16 values at byte offset `at` of eight consecutive rows, widened exactly.
__attribute__((target("avx2,f16c")))
static inline __m256 halves8(const uint8_t *w, long row_bytes, long at) {
    // Inserted lane by lane: a stack array re-read as a vector would stall on store forwarding.
    const uint8_t *p = w + at;
#define H(j) (short)(p[(j) * row_bytes] | (p[(j) * row_bytes + 1] << 8))
    return _mm256_cvtph_ps(_mm_set_epi16(H(7), H(6), H(5), H(4), H(3), H(2), H(1), H(0)));
#undef H
}

__attribute__((target("avx2")))
static inline __m256i madd_u8_s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

__attribute__((target("avx2")))
static inline __m256i madd_s8_s8(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// The 32 weights of one block in each of eight consecutive rows: Q4 nibbles unpacked, or Q8 bytes.
__attribute__((target("avx2")))
static inline void nibbles8(const uint8_t *q, long row_bytes, __m256i out[8]) {
    for (int j = 0; j < 8; j++) out[j] = unpack_nibbles(q + j * row_bytes);
}

__attribute__((target("avx2")))
static inline void bytes8(const uint8_t *q, long row_bytes, __m256i out[8]) {
    for (int j = 0; j < 8; j++) out[j] = _mm256_loadu_si256((const __m256i *)(q + j * row_bytes));
}

// One activation block against eight rows' weights: lane j holds row j's exact integer dot product.
__attribute__((target("avx2")))
static inline __m256i dots8_u8(const __m256i w[8], __m256i xv) {
    return reduce8(madd_u8_s8(w[0], xv), madd_u8_s8(w[1], xv), madd_u8_s8(w[2], xv), madd_u8_s8(w[3], xv),
                   madd_u8_s8(w[4], xv), madd_u8_s8(w[5], xv), madd_u8_s8(w[6], xv), madd_u8_s8(w[7], xv));
}

__attribute__((target("avx2")))
static inline __m256i dots8_s8(const __m256i w[8], __m256i xv) {
    return reduce8(madd_s8_s8(w[0], xv), madd_s8_s8(w[1], xv), madd_s8_s8(w[2], xv), madd_s8_s8(w[3], xv),
                   madd_s8_s8(w[4], xv), madd_s8_s8(w[5], xv), madd_s8_s8(w[6], xv), madd_s8_s8(w[7], xv));
}

__attribute__((target("avx2,f16c")))
void agora_gemv_q8_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out) {
    const int nb = n / 32;
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
            __m256i wq[8];
            bytes8(base + b * 34 + 2, row_bytes, wq);
            __m256i isum = dots8_s8(wq, xv);
            __m256 dw = halves8(base, row_bytes, b * 34);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[b]))));
        }
        _mm256_storeu_ps(out + r, acc);
    }
    for (; r < rows; r++) out[r] = agora_dot_q8_0(w + r * row_bytes, xq, xd, xs, n);
}

__attribute__((target("avx2,f16c")))
void agora_gemv_q4_1(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out) {
    const int nb = n / 32;
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
            __m256i wq[8];
            nibbles8(base + b * 20 + 4, row_bytes, wq);
            __m256i isum = dots8_u8(wq, xv);
            __m256 dw = halves8(base, row_bytes, b * 20);
            __m256 mw = halves8(base, row_bytes, b * 20 + 2);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[b]))));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(mw, _mm256_set1_ps(xs[b])));
        }
        _mm256_storeu_ps(out + r, acc);
    }
    for (; r < rows; r++) out[r] = agora_dot_q4_1(w + r * row_bytes, xq, xd, xs, n);
}

__attribute__((target("avx2,f16c")))
void agora_gemv_q4_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out) {
    const int nb = n / 32;
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
            __m256i wq[8];
            nibbles8(base + b * 18 + 2, row_bytes, wq);
            // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), exactly, for all eight rows at once.
            __m256i isum = _mm256_sub_epi32(dots8_u8(wq, xv), _mm256_set1_epi32(8 * sum_i8(xv)));
            __m256 dw = halves8(base, row_bytes, b * 18);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[b]))));
        }
        _mm256_storeu_ps(out + r, acc);
    }
    for (; r < rows; r++) out[r] = agora_dot_q4_0(w + r * row_bytes, xq, xd, xs, n);
}

// MARK: batched kernels, eight rows at a time
//
// Each block of eight weight rows is unpacked once and used for every token; the eight rows'
// integer sums for one token are reduced together (reduce8), which costs far fewer shuffles than
// reducing each dot product alone. Per output element the float steps are those of the one-row
// kernels, in the same order, so the bits do not change.

__attribute__((target("avx2,f16c")))
void agora_matmul_q4_1(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    __m256 acc[AGORA_MAX_BATCH_TOKENS];
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i wq[8];
            nibbles8(base + b * 20 + 4, row_bytes, wq);
            const __m256 dw = halves8(base, row_bytes, b * 20), mw = halves8(base, row_bytes, b * 20 + 2);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                __m256i isum = dots8_u8(wq, xv);
                __m256 a = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[t * nb + b]))));
                acc[t] = _mm256_add_ps(a, _mm256_mul_ps(mw, _mm256_set1_ps(xs[t * nb + b])));
            }
        }
        for (int t = 0; t < tokens; t++) _mm256_storeu_ps(out + t * out_stride + r, acc[t]);
    }
    if (r < rows) matmul_rows_q4_1(w + r * row_bytes, row_bytes, rows - r, xq, xd, xs, n, tokens, out + r, out_stride);
}

__attribute__((target("avx2,f16c")))
void agora_matmul_q4_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    __m256 acc[AGORA_MAX_BATCH_TOKENS];
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i wq[8];
            nibbles8(base + b * 18 + 2, row_bytes, wq);
            const __m256 dw = halves8(base, row_bytes, b * 18);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), exactly, for all eight rows at once.
                __m256i isum = _mm256_sub_epi32(dots8_u8(wq, xv), _mm256_set1_epi32(8 * sum_i8(xv)));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[t * nb + b]))));
            }
        }
        for (int t = 0; t < tokens; t++) _mm256_storeu_ps(out + t * out_stride + r, acc[t]);
    }
    if (r < rows) matmul_rows_q4_0(w + r * row_bytes, row_bytes, rows - r, xq, xd, xs, n, tokens, out + r, out_stride);
}

__attribute__((target("avx2,f16c")))
void agora_matmul_q8_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    __m256 acc[AGORA_MAX_BATCH_TOKENS];
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint8_t *base = w + r * row_bytes;
        for (int t = 0; t < tokens; t++) acc[t] = _mm256_setzero_ps();
        for (int b = 0; b < nb; b++) {
            __m256i wq[8];
            bytes8(base + b * 34 + 2, row_bytes, wq);
            const __m256 dw = halves8(base, row_bytes, b * 34);
            for (int t = 0; t < tokens; t++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (long)t * n + b * 32));
                __m256i isum = dots8_s8(wq, xv);
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[t * nb + b]))));
            }
        }
        for (int t = 0; t < tokens; t++) _mm256_storeu_ps(out + t * out_stride + r, acc[t]);
    }
    if (r < rows) matmul_rows_q8_0(w + r * row_bytes, row_bytes, rows - r, xq, xd, xs, n, tokens, out + r, out_stride);
}

#else
// Without x86 the Swift reference kernels run; these are never called.
int agora_cpu_has_avx2(void) { return 0; }
float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
void agora_matmul_q8_0(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, int tokens, float *out, long os) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)tokens; (void)out; (void)os; }
void agora_matmul_q4_0(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, int tokens, float *out, long os) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)tokens; (void)out; (void)os; }
void agora_matmul_q4_1(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, int tokens, float *out, long os) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)tokens; (void)out; (void)os; }
void agora_gemv_q8_0(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, float *out) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)out; }
void agora_gemv_q4_1(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, float *out) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)out; }
void agora_gemv_q4_0(const uint8_t *w, long rb, int rows, const int8_t *xq, const float *xd, const float *xs, int n, float *out) { (void)w; (void)rb; (void)rows; (void)xq; (void)xd; (void)xs; (void)n; (void)out; }
#endif
