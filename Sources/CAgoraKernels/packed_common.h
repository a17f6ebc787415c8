// Helpers shared by the packed kernels (packed_kernels.c: 32-column blocks; packed_kquant_kernels.c:
// K-quant super-blocks). x86 only; the files include it inside their `#if defined(__x86_64__)`.
#ifndef AGORA_PACKED_COMMON_H
#define AGORA_PACKED_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,f16c")))
#define AVX512 __attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni")))

static inline int32_t load_i32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// Integer block dots: w[k] holds, in lane j, row j's four weights at block positions 4k..4k+3;
// x is the block's 32 activations (|x| <= 127). Lane j of the result is row j's exact dot product.

// Unsigned nibbles: maddubs gives pair sums of at most 2 * 15 * 127 = 3,810, so eight of them add
// up in int16 (<= 30,480) before one widening step. The widening multiplies each int16 by `weight`
// (lane-wise int16 pairs): ones for the plain dot, or a K-quant sub-block's 6-bit scale in both
// halves, which weighs the dot in the same instruction (exactly: |scale * dot| < 2^31).
AVX2 static inline __m256i dot_u_avx2(const __m256i w[8], const int8_t *x, __m256i weight) {
    __m256i s = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load_i32(x)));
    for (int k = 1; k < 8; k++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[k], _mm256_set1_epi32(load_i32(x + 4 * k))));
    return _mm256_madd_epi16(s, weight);
}

// Five-bit weights: maddubs pair sums reach 2 * 31 * 127 = 7,874, so four add up in int16 (31,496)
// before widening (by `weight`, as above).
AVX2 static inline __m256i dot_u5_avx2(const __m256i w[8], const int8_t *x, __m256i weight) {
    __m256i a = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load_i32(x)));
    __m256i b = _mm256_maddubs_epi16(w[4], _mm256_set1_epi32(load_i32(x + 16)));
    for (int k = 1; k < 4; k++) {
        a = _mm256_add_epi16(a, _mm256_maddubs_epi16(w[k], _mm256_set1_epi32(load_i32(x + 4 * k))));
        b = _mm256_add_epi16(b, _mm256_maddubs_epi16(w[k + 4], _mm256_set1_epi32(load_i32(x + 16 + 4 * k))));
    }
    return _mm256_add_epi32(_mm256_madd_epi16(a, weight), _mm256_madd_epi16(b, weight));
}

AVX2 static inline __m256 halves8(const uint8_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

// Unsigned weights (nibbles, or Q8_0 bytes offset by 128) times one block's activations. `chains`
// (a compile-time constant) independent sums hide vpdpbusd's latency when few tokens interleave.
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline __m512i dot_u_avx512(const __m512i w[8], const int8_t *x, int chains) {
    __m512i c[4];
    for (int k = 0; k < chains; k++) c[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_set1_epi32(load_i32(x + 4 * k)));
    for (int k = chains; k < 8; k++) c[k % chains] = _mm512_dpbusd_epi32(c[k % chains], w[k], _mm512_set1_epi32(load_i32(x + 4 * k)));
    for (int k = 1; k < chains; k++) c[0] = _mm512_add_epi32(c[0], c[k]);
    return c[0];
}

// The K-quant rows (packed_kquant_kernels.c): groups [0, groups) times `tokens` activation rows.
void agora_packed_k_rows_avx2(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const int32_t *xisum,
                              int n, int tokens, float *out, long out_stride);
void agora_packed_k_rows_avx512(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const int32_t *xisum,
                                int n, int tokens, float *out, long out_stride);

#endif
