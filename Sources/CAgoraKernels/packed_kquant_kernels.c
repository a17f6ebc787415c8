// Packed kernels for K-quants (layout in agora_kernels.h): per super-block of 256 columns, each
// row's sub-block dots in its own lane, combined with its scales exactly as KernelReference.dotQK
// and dotQ6_K combine them for one row, so every copy gives the reference's bits.
#pragma clang fp contract(off)

#include "agora_kernels.h"

#if defined(__x86_64__)
#include "packed_common.h"

// K-quants, AVX2: per super-block of 256 columns, each row's sub-block dots in its lane, combined
// with its scales exactly as KernelReference.dotQK / dotQ6_K combine them for one row.

// The 6-bit scale and min of sub-blocks 0-7 from the three chunks of packed scales (lane-wise
// KernelReference.scaleMin).
#define K_SCALES(SRL, AND, OR, SLL, SET1, c0, c1, c2, sc, mn)                                          \
    for (int j = 0; j < 4; j++) {                                                                    \
        sc[j] = AND(SRL(c0, 8 * j), SET1(63));                                                       \
        mn[j] = AND(SRL(c1, 8 * j), SET1(63));                                                       \
        sc[j + 4] = OR(AND(SRL(c2, 8 * j), SET1(0xF)), SLL(AND(SRL(c0, 8 * j + 6), SET1(3)), 4));    \
        mn[j + 4] = OR(AND(SRL(c2, 8 * j + 4), SET1(0xF)), SLL(AND(SRL(c1, 8 * j + 6), SET1(3)), 4)); \
    }

// The activations' sums over sub-blocks 2k and 2k + 1 (32 values each, so |sum| <= 4,096) as the
// int16 pair a min pair in mn16[k] multiplies: the mins' offset sum(mn[s] * sum_s) in four
// multiply-adds of int16 pairs instead of eight 32-bit multiplies, the same integers.
static inline int32_t min_pair_sums(const int32_t *s16, int k) {
    const int32_t low = s16[4 * k] + s16[4 * k + 1], high = s16[4 * k + 2] + s16[4 * k + 3];
    return (int32_t)((uint32_t)(uint16_t)low | ((uint32_t)(uint16_t)high << 16));
}

// Q4_K and Q5_K: half `half` of one group over `nt` tokens. Chunk c of sub-block pair `pair`
// holds positions 4c..4c+3 of sub-block 2 * pair (low nibbles) and of 2 * pair + 1 (high).
__attribute__((target("avx2,f16c"), always_inline))
static inline void tile_qk_avx2(int high_bits, const uint8_t *p, int half, int nt, const int8_t *xq, const float *xd,
                                const int32_t *bsums, int nsb, int n, float *out, long out_stride) {
    const long block_bytes = high_bits ? 64 + 43 * 64 : 64 + 35 * 64;
    const long quants = 64 + (high_bits ? 11 : 3) * 64 + 32 * half;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256 acc[4];
    for (int j = 0; j < nt; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nsb; b++, p += block_bytes) {
        const __m256 dw = halves8(p + 16 * half), mw = halves8(p + 32 + 16 * half);
        __m256i sc[8], mn[8];
        const __m256i c0 = _mm256_loadu_si256((const __m256i *)(p + 64 + 32 * half));
        const __m256i c1 = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * half));
        const __m256i c2 = _mm256_loadu_si256((const __m256i *)(p + 192 + 32 * half));
        K_SCALES(_mm256_srli_epi32, _mm256_and_si256, _mm256_or_si256, _mm256_slli_epi32, _mm256_set1_epi32, c0, c1, c2, sc, mn)
        // Each scale in both int16 halves of its lane weighs its sub-block's dot as it widens;
        // the mins in int16 pairs weigh two pair sums of the activations per multiply-add.
        __m256i sc16[8], mn16[4];
        for (int s = 0; s < 8; s++) sc16[s] = _mm256_or_si256(sc[s], _mm256_slli_epi32(sc[s], 16));
        for (int k = 0; k < 4; k++) mn16[k] = _mm256_or_si256(mn[2 * k], _mm256_slli_epi32(mn[2 * k + 1], 16));
        __m256i scaled[4];
        for (int j = 0; j < nt; j++) scaled[j] = _mm256_setzero_si256();
        for (int pair = 0; pair < 4; pair++) {
            __m256i lo[8], hi[8];
            for (int c = 0; c < 8; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(p + quants + 64 * (8 * pair + c)));
                lo[c] = _mm256_and_si256(v, low4);
                hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
                if (high_bits) {
                    // Fifth bit of position i of sub-block s: bit s of byte i of the high bits.
                    __m256i h = _mm256_loadu_si256((const __m256i *)(p + 64 + 64 * (3 + c) + 32 * half));
                    lo[c] = _mm256_or_si256(lo[c], _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * pair), _mm256_set1_epi8(1)), 4));
                    hi[c] = _mm256_or_si256(hi[c], _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * pair + 1), _mm256_set1_epi8(1)), 4));
                }
            }
            for (int j = 0; j < nt; j++) {
                const int8_t *x = xq + (long)j * n + b * 256 + pair * 64;
                __m256i dlo = high_bits ? dot_u5_avx2(lo, x, sc16[2 * pair]) : dot_u_avx2(lo, x, sc16[2 * pair]);
                __m256i dhi = high_bits ? dot_u5_avx2(hi, x + 32, sc16[2 * pair + 1]) : dot_u_avx2(hi, x + 32, sc16[2 * pair + 1]);
                scaled[j] = _mm256_add_epi32(scaled[j], _mm256_add_epi32(dlo, dhi));
            }
        }
        for (int j = 0; j < nt; j++) {
            const int32_t *s16 = bsums + (long)j * (n / 16) + b * 16;
            __m256i offsets = _mm256_madd_epi16(mn16[0], _mm256_set1_epi32(min_pair_sums(s16, 0)));
            for (int k = 1; k < 4; k++) offsets = _mm256_add_epi32(offsets, _mm256_madd_epi16(mn16[k], _mm256_set1_epi32(min_pair_sums(s16, k))));
            const __m256 x = _mm256_set1_ps(xd[(long)j * nsb + b]);
            __m256 a = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_mul_ps(x, dw), _mm256_cvtepi32_ps(scaled[j])));
            acc[j] = _mm256_sub_ps(a, _mm256_mul_ps(_mm256_mul_ps(x, mw), _mm256_cvtepi32_ps(offsets)));
        }
    }
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + j * out_stride, acc[j]);
}

// Q6_K: run r (0-7) of 32 positions takes low nibbles (runs 0, 1, 4, 5) or high ones from 8 chunks
// of ql, two bits from 8 chunks of qh, and two int8 scales (one per 16 positions).
__attribute__((target("avx2,f16c"), always_inline))
static inline void tile_q6k_avx2(const uint8_t *p, int half, int nt, const int8_t *xq, const float *xd,
                                 const int32_t *bsums, int nsb, int n, float *out, long out_stride) {
    const long block_bytes = 32 + 52 * 64;
    const __m256i low4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int j = 0; j < nt; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nsb; b++, p += block_bytes) {
        const __m256 dw = halves8(p + 16 * half);
        const uint8_t *chunks = p + 32 + 32 * half;
        __m256i scale[16];
        for (int s = 0; s < 16; s++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(chunks + 64 * agora_q6k_line(48 + s / 4)));
            scale[s] = _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * (s % 4)), 24);
        }
        __m256i total[4];
        for (int j = 0; j < nt; j++) total[j] = _mm256_setzero_si256();
        for (int r = 0; r < 8; r++) {
            const int part = r / 4, quarter = r % 4;
            __m256i u[8];
            for (int c = 0; c < 8; c++) {
                __m256i l = _mm256_loadu_si256((const __m256i *)(chunks + 64 * agora_q6k_line(16 * part + 8 * (quarter & 1) + c)));
                __m256i h = _mm256_loadu_si256((const __m256i *)(chunks + 64 * agora_q6k_line(32 + 8 * part + c)));
                __m256i nib = quarter >= 2 ? _mm256_and_si256(_mm256_srli_epi16(l, 4), low4) : _mm256_and_si256(l, low4);
                __m256i two = _mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * quarter)), three);
                u[c] = _mm256_or_si256(nib, _mm256_slli_epi16(two, 4));
            }
            for (int j = 0; j < nt; j++) {
                const int8_t *x = xq + (long)j * n + b * 256 + r * 32;
                const int32_t *s16 = bsums + (long)j * (n / 16) + b * 16 + 2 * r;
                // Pair sums reach 2 * 63 * 127 = 16,002: two chunks add up in int16, then widen.
                __m256i first = _mm256_add_epi32(
                    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u[0], _mm256_set1_epi32(load_i32(x))), _mm256_maddubs_epi16(u[1], _mm256_set1_epi32(load_i32(x + 4)))), ones),
                    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u[2], _mm256_set1_epi32(load_i32(x + 8))), _mm256_maddubs_epi16(u[3], _mm256_set1_epi32(load_i32(x + 12)))), ones));
                __m256i second = _mm256_add_epi32(
                    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u[4], _mm256_set1_epi32(load_i32(x + 16))), _mm256_maddubs_epi16(u[5], _mm256_set1_epi32(load_i32(x + 20)))), ones),
                    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(u[6], _mm256_set1_epi32(load_i32(x + 24))), _mm256_maddubs_epi16(u[7], _mm256_set1_epi32(load_i32(x + 28)))), ones));
                // sum((q - 32) * x) = sum(q * x) - 32 * sum(x) per 16 positions, exactly.
                first = _mm256_sub_epi32(first, _mm256_set1_epi32(32 * s16[0]));
                second = _mm256_sub_epi32(second, _mm256_set1_epi32(32 * s16[1]));
                total[j] = _mm256_add_epi32(total[j], _mm256_add_epi32(_mm256_mullo_epi32(scale[2 * r], first), _mm256_mullo_epi32(scale[2 * r + 1], second)));
            }
        }
        for (int j = 0; j < nt; j++) {
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(xd[(long)j * nsb + b]), dw), _mm256_cvtepi32_ps(total[j])));
        }
    }
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + j * out_stride, acc[j]);
}

#define K_TILE_AVX2(NT)                                                                              \
    switch (type) {                                                                                  \
    case AGORA_PACKED_Q4_K: tile_qk_avx2(0, p, half, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride); break; \
    case AGORA_PACKED_Q5_K: tile_qk_avx2(1, p, half, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride); break; \
    default: tile_q6k_avx2(p, half, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride); break;              \
    }

AVX2 void agora_packed_k_rows_avx2(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const int32_t *xisum,
                             int n, int tokens, float *out, long out_stride) {
    const int nsb = n / 256;
    const long group_bytes = nsb * agora_packed_block_bytes(type);
    for (int g = 0; g < groups; g++, p += group_bytes) {
        for (int half = 0; half < 2; half++) {
            for (int t = 0; t < tokens;) {
                const int8_t *x = xq + (long)t * n;
                const int32_t *bs = xisum + (long)t * (n / 16);
                float *o = out + 16 * g + 8 * half + t * out_stride;
                switch (tokens - t >= 4 ? 4 : tokens - t) {
                case 4: K_TILE_AVX2(4) t += 4; break;
                case 3: K_TILE_AVX2(3) t += 3; break;
                case 2: K_TILE_AVX2(2) t += 2; break;
                default: K_TILE_AVX2(1) t += 1; break;
                }
            }
        }
    }
}

// K-quants, AVX-512 VNNI: tile_qk_avx2 and tile_q6k_avx2 over whole chunks (sixteen rows).
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile_qk_avx512(int high_bits, const uint8_t *p, int nt, const int8_t *xq, const float *xd,
                                  const int32_t *bsums, int nsb, int n, float *out, long out_stride) {
    const long block_bytes = high_bits ? 64 + 43 * 64 : 64 + 35 * 64;
    const long quants = 64 + (high_bits ? 11 : 3) * 64;
    const int chains = nt >= 6 ? 1 : nt >= 3 ? 2 : 4;
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    __m512 acc[8];
    for (int j = 0; j < nt; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++, p += block_bytes) {
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));
        __m512i sc[8], mn[8];
        const __m512i c0 = _mm512_loadu_si512(p + 64), c1 = _mm512_loadu_si512(p + 128), c2 = _mm512_loadu_si512(p + 192);
        K_SCALES(_mm512_srli_epi32, _mm512_and_si512, _mm512_or_si512, _mm512_slli_epi32, _mm512_set1_epi32, c0, c1, c2, sc, mn)
        __m512i mn16[4];   // the mins in int16 pairs, as in tile_qk_avx2
        for (int k = 0; k < 4; k++) mn16[k] = _mm512_or_si512(mn[2 * k], _mm512_slli_epi32(mn[2 * k + 1], 16));
        __m512i scaled[8];
        for (int j = 0; j < nt; j++) scaled[j] = _mm512_setzero_si512();
        for (int pair = 0; pair < 4; pair++) {
            __m512i lo[8], hi[8];
            for (int c = 0; c < 8; c++) {
                __m512i v = _mm512_loadu_si512(p + quants + 64 * (8 * pair + c));
                lo[c] = _mm512_and_si512(v, low4);
                hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
                if (high_bits) {
                    __m512i h = _mm512_loadu_si512(p + 64 + 64 * (3 + c));
                    lo[c] = _mm512_or_si512(lo[c], _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2 * pair), _mm512_set1_epi8(1)), 4));
                    hi[c] = _mm512_or_si512(hi[c], _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2 * pair + 1), _mm512_set1_epi8(1)), 4));
                }
            }
            for (int j = 0; j < nt; j++) {
                const int8_t *x = xq + (long)j * n + b * 256 + pair * 64;
                __m512i dlo = dot_u_avx512(lo, x, chains), dhi = dot_u_avx512(hi, x + 32, chains);
                scaled[j] = _mm512_add_epi32(scaled[j], _mm512_add_epi32(_mm512_mullo_epi32(sc[2 * pair], dlo), _mm512_mullo_epi32(sc[2 * pair + 1], dhi)));
            }
        }
        for (int j = 0; j < nt; j++) {
            const int32_t *s16 = bsums + (long)j * (n / 16) + b * 16;
            __m512i offsets = _mm512_setzero_si512();
            for (int k = 0; k < 4; k++) offsets = _mm512_dpwssd_epi32(offsets, mn16[k], _mm512_set1_epi32(min_pair_sums(s16, k)));
            const __m512 x = _mm512_set1_ps(xd[(long)j * nsb + b]);
            __m512 a = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_mul_ps(x, dw), _mm512_cvtepi32_ps(scaled[j])));
            acc[j] = _mm512_sub_ps(a, _mm512_mul_ps(_mm512_mul_ps(x, mw), _mm512_cvtepi32_ps(offsets)));
        }
    }
    for (int j = 0; j < nt; j++) _mm512_storeu_ps(out + j * out_stride, acc[j]);
}

// A Q6_K block's sixteen int8 scales, each row's in its lane (from the block's last four lines).
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void q6k_scales_avx512(const uint8_t *chunks, __m512i scale[16]) {
    for (int s = 0; s < 16; s++) {
        __m512i v = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(48 + s / 4));
        scale[s] = _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * (s % 4)), 24);
    }
}

__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile_q6k_avx512(const uint8_t *p, int nt, const int8_t *xq, const float *xd,
                                   const int32_t *bsums, int nsb, int n, float *out, long out_stride) {
    const long block_bytes = 32 + 52 * 64;
    const __m512i low4 = _mm512_set1_epi8(0x0F), three = _mm512_set1_epi8(3);
    __m512 acc[8];
    for (int j = 0; j < nt; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++, p += block_bytes) {
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        const uint8_t *chunks = p + 32;
        __m512i scale[16];
        q6k_scales_avx512(chunks, scale);
        __m512i total[8];
        for (int j = 0; j < nt; j++) total[j] = _mm512_setzero_si512();
        for (int r = 0; r < 8; r++) {
            const int part = r / 4, quarter = r % 4;
            __m512i u[8];
            for (int c = 0; c < 8; c++) {
                __m512i l = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(16 * part + 8 * (quarter & 1) + c));
                __m512i h = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(32 + 8 * part + c));
                __m512i nib = quarter >= 2 ? _mm512_and_si512(_mm512_srli_epi16(l, 4), low4) : _mm512_and_si512(l, low4);
                __m512i two = _mm512_and_si512(_mm512_srl_epi16(h, _mm_cvtsi32_si128(2 * quarter)), three);
                u[c] = _mm512_or_si512(nib, _mm512_slli_epi16(two, 4));
            }
            for (int j = 0; j < nt; j++) {
                const int8_t *x = xq + (long)j * n + b * 256 + r * 32;
                const int32_t *s16 = bsums + (long)j * (n / 16) + b * 16 + 2 * r;
                __m512i first = _mm512_setzero_si512(), second = _mm512_setzero_si512();
                for (int c = 0; c < 4; c++) first = _mm512_dpbusd_epi32(first, u[c], _mm512_set1_epi32(load_i32(x + 4 * c)));
                for (int c = 4; c < 8; c++) second = _mm512_dpbusd_epi32(second, u[c], _mm512_set1_epi32(load_i32(x + 4 * c)));
                first = _mm512_sub_epi32(first, _mm512_set1_epi32(32 * s16[0]));
                second = _mm512_sub_epi32(second, _mm512_set1_epi32(32 * s16[1]));
                total[j] = _mm512_add_epi32(total[j], _mm512_add_epi32(_mm512_mullo_epi32(scale[2 * r], first), _mm512_mullo_epi32(scale[2 * r + 1], second)));
            }
        }
        for (int j = 0; j < nt; j++) {
            acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(xd[(long)j * nsb + b]), dw), _mm512_cvtepi32_ps(total[j])));
        }
    }
    for (int j = 0; j < nt; j++) _mm512_storeu_ps(out + j * out_stride, acc[j]);
}

// Q6_K for one token (decoding), the integers of tile_q6k_avx512 in another order: each line of ql
// and qh is loaded once and gives all four of its runs (immediate shifts), instead of once per run.
// With one token the bit unpacking, not the dot products, is the work: this halves the loads and
// the shifts. Integer sums are exact in any order, and the float steps are the same: the result is
// bit for bit tile_q6k_avx512's.
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile_q6k_avx512_one(const uint8_t *p, const int8_t *xq, const float *xd, const int32_t *bsums, int nsb, float *out) {
    const long block_bytes = 32 + 52 * 64;
    const __m512i low4 = _mm512_set1_epi8(0x0F), three = _mm512_set1_epi8(3);
    __m512 acc = _mm512_setzero_ps();
    for (int b = 0; b < nsb; b++, p += block_bytes) {
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        const uint8_t *chunks = p + 32;
        __m512i scale[16];
        q6k_scales_avx512(chunks, scale);
        const int8_t *x = xq + b * 256;
        const int32_t *s16 = bsums + b * 16;
        __m512i total = _mm512_setzero_si512();
        for (int part = 0; part < 2; part++) {
            __m512i dots[4][2];   // [run within the part][first or second 16 positions]
            for (int half = 0; half < 2; half++) {
                __m512i d[4];
                for (int q = 0; q < 4; q++) d[q] = _mm512_setzero_si512();
                for (int c = 4 * half; c < 4 * half + 4; c++) {
                    const __m512i la = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(16 * part + c));
                    const __m512i lb = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(16 * part + 8 + c));
                    const __m512i h = _mm512_loadu_si512(chunks + 64 * agora_q6k_line(32 + 8 * part + c));
                    __m512i u[4];
                    u[0] = _mm512_or_si512(_mm512_and_si512(la, low4), _mm512_slli_epi16(_mm512_and_si512(h, three), 4));
                    u[1] = _mm512_or_si512(_mm512_and_si512(lb, low4), _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 2), three), 4));
                    u[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(la, 4), low4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 4), three), 4));
                    u[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lb, 4), low4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(h, 6), three), 4));
                    for (int q = 0; q < 4; q++)
                        d[q] = _mm512_dpbusd_epi32(d[q], u[q], _mm512_set1_epi32(load_i32(x + 32 * (4 * part + q) + 4 * c)));
                }
                for (int q = 0; q < 4; q++) dots[q][half] = d[q];
            }
            for (int q = 0; q < 4; q++) {
                const int r = 4 * part + q;
                const __m512i first = _mm512_sub_epi32(dots[q][0], _mm512_set1_epi32(32 * s16[2 * r]));
                const __m512i second = _mm512_sub_epi32(dots[q][1], _mm512_set1_epi32(32 * s16[2 * r + 1]));
                total = _mm512_add_epi32(total, _mm512_add_epi32(_mm512_mullo_epi32(scale[2 * r], first), _mm512_mullo_epi32(scale[2 * r + 1], second)));
            }
        }
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(xd[b]), dw), _mm512_cvtepi32_ps(total)));
    }
    _mm512_storeu_ps(out, acc);
}

#define K_TILE_AVX512(NT)                                                                              \
    switch (type) {                                                                                    \
    case AGORA_PACKED_Q4_K: tile_qk_avx512(0, p, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride); break; \
    case AGORA_PACKED_Q5_K: tile_qk_avx512(1, p, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride); break; \
    default:                                                                                           \
        if (NT == 1) tile_q6k_avx512_one(p, x, xd + (long)t * nsb, bs, nsb, o);                          \
        else tile_q6k_avx512(p, NT, x, xd + (long)t * nsb, bs, nsb, n, o, out_stride);                   \
        break;                                                                                         \
    }

AVX512 void agora_packed_k_rows_avx512(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const int32_t *xisum,
                                 int n, int tokens, float *out, long out_stride) {
    const int nsb = n / 256;
    const long group_bytes = nsb * agora_packed_block_bytes(type);
    for (int g = 0; g < groups; g++, p += group_bytes) {
        for (int t = 0; t < tokens;) {
            const int8_t *x = xq + (long)t * n;
            const int32_t *bs = xisum + (long)t * (n / 16);
            float *o = out + 16 * g + t * out_stride;
            switch (tokens - t >= 8 ? 8 : tokens - t) {
            case 8: K_TILE_AVX512(8) t += 8; break;
            case 7: K_TILE_AVX512(7) t += 7; break;
            case 6: K_TILE_AVX512(6) t += 6; break;
            case 5: K_TILE_AVX512(5) t += 5; break;
            case 4: K_TILE_AVX512(4) t += 4; break;
            case 3: K_TILE_AVX512(3) t += 3; break;
            case 2: K_TILE_AVX512(2) t += 2; break;
            default: K_TILE_AVX512(1) t += 1; break;
            }
        }
    }
}

#endif
