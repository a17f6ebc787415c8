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

// IQ4 nibbles as their int8 values: 32 from 16 bytes, low nibbles first (positions 0-15).
__attribute__((target("avx2")))
static inline __m256i iq4_values(const uint8_t *qs) {
    const __m128i table = _mm_loadu_si128((const __m128i *)agora_iq4_table);
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(b, _mm_set1_epi8(0x0F)));
    const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0F)));
    return _mm256_set_m128i(hi, lo);
}

// Sum of s8 * s8 products of 32 pairs, widened to int16 first: exact for every int8 (the sign
// trick of maddubs is not, for -128 times a negative weight).
__attribute__((target("avx2")))
static inline int32_t dot_s8_s8(__m256i a, __m256i b) {
    const __m256i lo = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(a)), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(b)));
    const __m256i hi = _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(a, 1)), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(b, 1)));
    return hsum_i32(_mm256_add_epi32(lo, hi));
}

__attribute__((target("avx2")))
float agora_dot_iq4_nl(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    (void)xs;
    float acc = 0.0f;
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + b * 18;
        const int32_t isum = dot_s8_s8(iq4_values(blk + 2), _mm256_loadu_si256((const __m256i *)(xq + b * 32)));
        acc = acc + (float)isum * (half_to_float(blk) * xd[b]);
    }
    return acc;
}

__attribute__((target("avx2")))
float agora_dot_iq4_xs(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    (void)bsums;
    float acc = 0.0f;
    for (int sb = 0; sb < n / 256; sb++) {
        const uint8_t *blk = w + sb * 136;
        int32_t total = 0;
        for (int j = 0; j < 8; j++) {
            const int32_t isum = dot_s8_s8(iq4_values(blk + 8 + 16 * j), _mm256_loadu_si256((const __m256i *)(xq + sb * 256 + 32 * j)));
            total += (agora_iq4_xs_scale(blk, j) - 32) * isum;
        }
        acc = acc + (xd[sb] * half_to_float(blk)) * (float)total;
    }
    return acc;
}

// Bit i of `bits` as byte i of 32: 0xFF where set, 0 where clear.
__attribute__((target("avx2")))
static inline __m256i bytes_from_bits(uint32_t bits) {
    // Byte i takes byte i / 8 of `bits`, then keeps bit i % 8 of it.
    const __m256i spread = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
    const __m256i select = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, select), select);
}

// Q5_0 and Q5_1: Q4's nibbles plus a fifth bit per element (bit i of qh for element i).
__attribute__((target("avx2")))
static inline float dot_q5(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n, int with_min) {
    float acc = 0.0f;
    const int block_bytes = with_min ? 24 : 22, offset = with_min ? 2 : 0;
    for (int b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + b * block_bytes;
        uint32_t qh;
        memcpy(&qh, blk + 2 + offset, 4);
        __m256i q = _mm256_or_si256(unpack_nibbles(blk + 6 + offset), _mm256_and_si256(bytes_from_bits(qh), _mm256_set1_epi8(16)));
        __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + b * 32));
        // Q5_0: sum((q - 16) * x) = sum(q * x) - 16 * sum(x), exactly.
        int32_t isum = dot_u8_s8(q, xv) - (with_min ? 0 : 16 * sum_i8(xv));
        acc = acc + (float)isum * (half_to_float(blk) * xd[b]);
        if (with_min) acc = acc + half_to_float(blk + 2) * xs[b];
    }
    return acc;
}

__attribute__((target("avx2")))
float agora_dot_q5_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    return dot_q5(w, xq, xd, xs, n, 0);
}

__attribute__((target("avx2")))
float agora_dot_q5_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) {
    return dot_q5(w, xq, xd, xs, n, 1);
}

// The u8 x s8 products of 32 pairs summed per 16: the two sub-blocks of a K-quant run.
__attribute__((target("avx2")))
static inline void dot_u8_s8_halves(__m256i u, __m256i s, int32_t *first, int32_t *second) {
    __m256i p32 = _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
    __m128i lo = _mm256_castsi256_si128(p32), hi = _mm256_extracti128_si256(p32, 1);
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4E)); lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xB1));
    hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0x4E)); hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0xB1));
    *first = _mm_cvtsi128_si32(lo);
    *second = _mm_cvtsi128_si32(hi);
}

// The 2-bit plane `plane` (0-3) of 32 bytes of Q2_K/Q3_K quants: 32 consecutive elements.
__attribute__((target("avx2")))
static inline __m256i two_bit_plane(__m256i bytes, int plane) {
    return _mm256_and_si256(_mm256_srl_epi16(bytes, _mm_cvtsi32_si128(2 * plane)), _mm256_set1_epi8(3));
}

__attribute__((target("avx2")))
float agora_dot_q2_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    float acc = 0.0f;
    for (int sb = 0; sb < n / 256; sb++) {
        const uint8_t *blk = w + sb * 84;
        int32_t scaled = 0, offsets = 0;
        for (int half = 0; half < 2; half++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + 16 + half * 32));
            for (int plane = 0; plane < 4; plane++) {
                int s0 = half * 8 + plane * 2;  // the run's two sub-blocks of 16: s0, s0 + 1
                int32_t first, second;
                dot_u8_s8_halves(two_bit_plane(bytes, plane), _mm256_loadu_si256((const __m256i *)(xq + sb * 256 + s0 * 16)), &first, &second);
                scaled += (blk[s0] & 0xF) * first + (blk[s0 + 1] & 0xF) * second;
                offsets += (blk[s0] >> 4) * bsums[sb * 16 + s0] + (blk[s0 + 1] >> 4) * bsums[sb * 16 + s0 + 1];
            }
        }
        acc = acc + (xd[sb] * half_to_float(blk + 80)) * (float)scaled;
        acc = acc - (xd[sb] * half_to_float(blk + 82)) * (float)offsets;
    }
    return acc;
}

static inline int32_t q3_scale(int s, const uint8_t *scales) {
    int32_t low = s < 8 ? (scales[s] & 0xF) : (scales[s - 8] >> 4);
    int32_t high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (low | (high << 4)) - 32;
}

__attribute__((target("avx2")))
float agora_dot_q3_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n) {
    float acc = 0.0f;
    for (int sb = 0; sb < n / 256; sb++) {
        const uint8_t *blk = w + sb * 110;
        __m256i hmask = _mm256_loadu_si256((const __m256i *)blk);
        int32_t total = 0;
        for (int half = 0; half < 2; half++) {
            __m256i bytes = _mm256_loadu_si256((const __m256i *)(blk + 32 + half * 32));
            for (int plane = 0; plane < 4; plane++) {
                int s0 = half * 8 + plane * 2;
                // q + 4 = the two low bits, plus 4 where the run's hmask bit is set (0..7, unsigned);
                // sum(q * x) = sum((q + 4) * x) - 4 * sum(x), exactly.
                __m256i select = _mm256_set1_epi8((char)(1 << (half * 4 + plane)));
                __m256i high = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hmask, select), select), _mm256_set1_epi8(4));
                int32_t first, second;
                dot_u8_s8_halves(_mm256_or_si256(two_bit_plane(bytes, plane), high),
                                 _mm256_loadu_si256((const __m256i *)(xq + sb * 256 + s0 * 16)), &first, &second);
                total += q3_scale(s0, blk + 96) * (first - 4 * bsums[sb * 16 + s0]);
                total += q3_scale(s0 + 1, blk + 96) * (second - 4 * bsums[sb * 16 + s0 + 1]);
            }
        }
        acc = acc + (xd[sb] * half_to_float(blk + 108)) * (float)total;
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

#else
// Without x86 the Swift reference kernels run; these are never called.
int agora_cpu_has_avx2(void) { return 0; }
float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q5_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_q5_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_iq4_nl(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n) { (void)w; (void)xq; (void)xd; (void)xs; (void)n; return 0; }
float agora_dot_iq4_xs(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q2_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q3_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *b, int n) { (void)w; (void)xq; (void)xd; (void)b; (void)n; return 0; }
#endif
