// Kernels over weights packed eight rows at a time (layout in agora_kernels.h). Lane j of every
// vector belongs to row j of the group, so a block's eight integer dot products come out in the
// lanes of one register without any horizontal reduction, and each lane's float accumulator does
// exactly what the one-row kernel does for that row.
#pragma clang fp contract(off)

#include "agora_kernels.h"
#include <string.h>

long agora_packed_block_bytes(int type) {
    switch (type) {
    case AGORA_PACKED_Q8_0: return 16 + 256;
    case AGORA_PACKED_Q4_0: return 16 + 128;
    default: return 16 + 16 + 128;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

int agora_cpu_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

static inline int32_t load_i32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// Integer block dots: w[k] holds, in lane j, row j's four weights at block positions 4k..4k+3;
// x is the block's 32 activations (|x| <= 127). Lane j of the result is row j's exact dot product.

// AVX2, unsigned nibbles: maddubs gives pair sums of at most 2 * 15 * 127 = 3,810, so eight of them
// add up in int16 (<= 30,480) before one widening step.
__attribute__((target("avx2")))
static inline __m256i dot_u_avx2(const __m256i w[8], const int8_t *x) {
    __m256i s = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load_i32(x)));
    for (int k = 1; k < 8; k++) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(w[k], _mm256_set1_epi32(load_i32(x + 4 * k))));
    return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

// AVX2, signed bytes: |w| * (x with w's sign), since maddubs needs an unsigned operand; pair sums
// reach 2 * 128 * 127 = 32,512, so each is widened before adding.
__attribute__((target("avx2")))
static inline __m256i dot_s_avx2(const __m256i w[8], const int8_t *x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (int k = 0; k < 8; k += 2) {
        __m256i x0 = _mm256_set1_epi32(load_i32(x + 4 * k)), x1 = _mm256_set1_epi32(load_i32(x + 4 * k + 4));
        a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w[k], w[k]), _mm256_sign_epi8(x0, w[k])), ones));
        b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w[k + 1], w[k + 1]), _mm256_sign_epi8(x1, w[k + 1])), ones));
    }
    return _mm256_add_epi32(a, b);
}

// AVX-512 VNNI (256-bit forms): vpdpbusd multiplies u8 by s8 and adds four products into each
// int32 lane in one instruction, without int16 saturation. Four chains hide its latency.
__attribute__((target("avx2,avx512vl,avx512vnni")))
static inline __m256i dot_u_vnni(const __m256i w[8], const int8_t *x) {
    __m256i c[4];
    for (int k = 0; k < 4; k++) c[k] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), w[k], _mm256_set1_epi32(load_i32(x + 4 * k)));
    for (int k = 4; k < 8; k++) c[k - 4] = _mm256_dpbusd_epi32(c[k - 4], w[k], _mm256_set1_epi32(load_i32(x + 4 * k)));
    return _mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]));
}

__attribute__((target("avx2,avx512vl,avx512vnni")))
static inline __m256i dot_s_vnni(const __m256i w[8], const int8_t *x) {
    __m256i c[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int k = 0; k < 8; k++) {
        __m256i xk = _mm256_set1_epi32(load_i32(x + 4 * k));
        c[k % 4] = _mm256_dpbusd_epi32(c[k % 4], _mm256_sign_epi8(w[k], w[k]), _mm256_sign_epi8(xk, w[k]));
    }
    return _mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]));
}

#define PACKED_TARGET "avx2,f16c"
#define PACKED(name) name##_avx2
#define DOT_U dot_u_avx2
#define DOT_S dot_s_avx2
#include "packed_template.h"
#undef PACKED_TARGET
#undef PACKED
#undef DOT_U
#undef DOT_S

#define PACKED_TARGET "avx2,f16c,avx512vl,avx512vnni"
#define PACKED(name) name##_vnni
#define DOT_U dot_u_vnni
#define DOT_S dot_s_vnni
#include "packed_template.h"
#undef PACKED_TARGET
#undef PACKED
#undef DOT_U
#undef DOT_S

void agora_packed_matmul(int type, int use_vnni, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                         const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    if (use_vnni) matmul_vnni(type, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride);
    else matmul_avx2(type, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride);
}

#else

int agora_cpu_has_avx512_vnni(void) { return 0; }
void agora_packed_matmul(int type, int use_vnni, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                         const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    (void)type; (void)use_vnni; (void)p; (void)groups; (void)xq; (void)xd; (void)xs; (void)xisum; (void)n;
    (void)tokens; (void)out; (void)out_stride;
}

#endif
