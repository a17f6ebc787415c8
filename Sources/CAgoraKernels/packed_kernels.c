// Kernels over weights packed sixteen rows at a time (layout in agora_kernels.h). Lane j of every
// vector belongs to row j of the group (or of its half), so a block's integer dot products come out
// in the lanes of one register without any horizontal reduction, and each lane's float accumulator
// does exactly what the one-row kernel (kernels.c) does for that row, in the same order: every copy
// gives the same bits as the Swift reference; only exact integer sums differ in how they are
// computed.
#pragma clang fp contract(off)

#include "agora_kernels.h"
#include <string.h>

long agora_packed_block_bytes(int type) {
    switch (type) {
    case AGORA_PACKED_Q8_0: return 32 + 512;
    case AGORA_PACKED_Q4_0: case AGORA_PACKED_IQ4_NL: return 32 + 256;
    case AGORA_PACKED_Q5_0: return 32 + 64 + 256;
    case AGORA_PACKED_Q4_K: return 64 + 35 * 64;
    case AGORA_PACKED_Q5_K: return 64 + 43 * 64;
    case AGORA_PACKED_Q6_K: return 32 + 52 * 64;
    default: return 64 + 256;
    }
}

// Bytes of fp16 scales (and minimums) before a block's chunks.
static inline long scale_bytes(int type) { return type == AGORA_PACKED_Q4_1 ? 64 : 32; }

#if defined(__x86_64__)
#include "packed_common.h"

int agora_cpu_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}

// ---------------------------------------------------------------------------------------------
// AVX2: eight rows per 256-bit vector, one half of each chunk at a time (helpers in packed_common.h).

// Signed bytes: |w| * (x with w's sign), since maddubs needs an unsigned operand; pair sums reach
// 2 * 128 * 127 = 32,512, so each is widened before adding.
AVX2 static inline __m256i dot_s_avx2(const __m256i w[8], const int8_t *x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (int k = 0; k < 8; k += 2) {
        __m256i x0 = _mm256_set1_epi32(load_i32(x + 4 * k)), x1 = _mm256_set1_epi32(load_i32(x + 4 * k + 4));
        a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w[k], w[k]), _mm256_sign_epi8(x0, w[k])), ones));
        b = _mm256_add_epi32(b, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w[k + 1], w[k + 1]), _mm256_sign_epi8(x1, w[k + 1])), ones));
    }
    return _mm256_add_epi32(a, b);
}

// Q5_0: chunk 0 holds each row's 32 fifth bits (bit i for block position i), so the four bytes
// of w[m] (positions 4m..4m+3 as unpack_q4 orders them) take bits 4m..4m+3: nibble m % 2 of byte
// m / 2 of the row's lane. Each byte becomes 16 where its bit is set.
AVX2 static inline void add_fifth_bits_avx2(const uint8_t *qh, __m256i w[8]) {
    const __m256i bits = _mm256_loadu_si256((const __m256i *)qh);
    for (int m = 0; m < 8; m++) {
        const char s = (char)(m / 2);
        const __m256i spread = _mm256_setr_epi8(s, s, s, s, 4 + s, 4 + s, 4 + s, 4 + s, 8 + s, 8 + s, 8 + s, 8 + s, 12 + s, 12 + s, 12 + s, 12 + s,
                                                s, s, s, s, 4 + s, 4 + s, 4 + s, 4 + s, 8 + s, 8 + s, 8 + s, 8 + s, 12 + s, 12 + s, 12 + s, 12 + s);
        const __m256i select = _mm256_set1_epi32(m % 2 ? (int)0x80402010 : 0x08040201);
        const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(bits, spread), select), select);
        w[m] = _mm256_or_si256(w[m], _mm256_and_si256(set, _mm256_set1_epi8(16)));
    }
}

// A half's nibble bytes: chunk k (64 bytes apart) holds four bytes of each row for block positions
// 4k..4k+3 (low nibbles) and 16+4k..16+4k+3 (high nibbles).
AVX2 static inline void unpack_q4_avx2(const uint8_t *q, __m256i w[8]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 64 * k));
        w[k] = _mm256_and_si256(v, low4);
        w[k + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
}

// Half `half` (rows 8 * half ..< 8 * half + 8) of one group times `nt` tokens (a compile-time
// constant at every call, so the accumulators live in registers and the tokens' dependency chains
// interleave). `p` is the group's first block; token j's activations start at block j * nb.
__attribute__((target("avx2,f16c"), always_inline))
static inline void tile_avx2(int type, const uint8_t *p, int half, int nt, const int8_t *xq, const float *xd,
                             const float *xs, const int32_t *xisum, int nb, float *out, long out_stride) {
    const long block_bytes = agora_packed_block_bytes(type), chunks = scale_bytes(type) + 32 * half;
    __m256 acc[4];
    for (int j = 0; j < nt; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, p += block_bytes) {
        __m256i w[8];
        const __m256 dw = halves8(p + 16 * half);
        if (type == AGORA_PACKED_Q8_0) {
            for (int k = 0; k < 8; k++) w[k] = _mm256_loadu_si256((const __m256i *)(p + chunks + 64 * k));
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m256i isum = dot_s_avx2(w, xq + at * 32);
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_Q4_0) {
            unpack_q4_avx2(p + chunks, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), exactly.
                __m256i isum = _mm256_sub_epi32(dot_u_avx2(w, xq + at * 32, _mm256_set1_epi16(1)), _mm256_set1_epi32(8 * xisum[at]));
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_IQ4_NL) {
            // Each nibble looked up as its signed value; the activations of 32-element blocks are
            // within -127...127, so dot_s_avx2's sign trick is exact.
            const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)agora_iq4_table));
            unpack_q4_avx2(p + chunks, w);
            for (int k = 0; k < 8; k++) w[k] = _mm256_shuffle_epi8(table, w[k]);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m256i isum = dot_s_avx2(w, xq + at * 32);
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_Q5_0) {
            // Chunk 0: the fifth bits; chunks 1-4: the nibbles.
            unpack_q4_avx2(p + chunks + 64, w);
            add_fifth_bits_avx2(p + chunks, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                // sum((q - 16) * x) = sum(q * x) - 16 * sum(x), exactly.
                __m256i isum = _mm256_sub_epi32(dot_u5_avx2(w, xq + at * 32, _mm256_set1_epi16(1)), _mm256_set1_epi32(16 * xisum[at]));
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else {
            const __m256 mw = halves8(p + 32 + 16 * half);
            unpack_q4_avx2(p + chunks, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m256i isum = dot_u_avx2(w, xq + at * 32, _mm256_set1_epi16(1));
                __m256 a = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
                acc[j] = _mm256_add_ps(a, _mm256_mul_ps(mw, _mm256_set1_ps(xs[at])));
            }
        }
    }
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + j * out_stride, acc[j]);
}

// Each group's two halves in tiles of four tokens: a half's blocks (a few KiB) stay in L1 while each
// tile re-reads them; sixteen 256-bit registers hold no more accumulators than that.
__attribute__((target("avx2,f16c"), always_inline))
static inline void rows_avx2(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const float *xs,
                             const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    const long group_bytes = nb * agora_packed_block_bytes(type);
    for (int g = 0; g < groups; g++, p += group_bytes) {
        for (int half = 0; half < 2; half++) {
            float *o = out + 16 * g + 8 * half;
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                const long at = (long)t * nb;
                tile_avx2(type, p, half, 4, xq + (long)t * n, xd + at, xs + at, xisum + at, nb, o + t * out_stride, out_stride);
            }
            const long at = (long)t * nb;
            const int8_t *x = xq + (long)t * n;
            // Each remainder size is its own instantiation, so its accumulators stay in registers too.
            switch (tokens - t) {
            case 1: tile_avx2(type, p, half, 1, x, xd + at, xs + at, xisum + at, nb, o + t * out_stride, out_stride); break;
            case 2: tile_avx2(type, p, half, 2, x, xd + at, xs + at, xisum + at, nb, o + t * out_stride, out_stride); break;
            case 3: tile_avx2(type, p, half, 3, x, xd + at, xs + at, xisum + at, nb, o + t * out_stride, out_stride); break;
            default: break;
            }
        }
    }
}

AVX2 static void matmul_avx2(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const float *xs,
                             const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    // One instantiation per weight type, so each inner loop is branch-free.
    switch (type) {
    case AGORA_PACKED_Q4_K: case AGORA_PACKED_Q5_K: case AGORA_PACKED_Q6_K:
        agora_packed_k_rows_avx2(type, p, groups, xq, xd, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q8_0: rows_avx2(AGORA_PACKED_Q8_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q4_0: rows_avx2(AGORA_PACKED_Q4_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q5_0: rows_avx2(AGORA_PACKED_Q5_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_IQ4_NL: rows_avx2(AGORA_PACKED_IQ4_NL, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    default: rows_avx2(AGORA_PACKED_Q4_1, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    }
}

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI: sixteen rows per 512-bit vector (a whole chunk). vpdpbusd multiplies u8 by s8 and
// adds four products into each int32 lane, without int16 saturation. On a core that runs 512-bit
// operations as two 256-bit halves this does the same integer work per cycle as 256-bit vectors,
// but each activation broadcast and each scale load serves sixteen rows instead of eight: those
// had taken as many issue slots as a third of the multiplies.

// One group times `nt` tokens (a compile-time constant). With `prefetch`, the next group's block b
// is requested into L2 while block b is computed: a tile of several tokens is compute-bound, and without
// it the memory would idle during the tile and the compute during the next group's first loads.
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void tile_avx512(int type, const uint8_t *p, int nt, const int8_t *xq, const float *xd, const float *xs,
                               const int32_t *xisum, int nb, float *out, long out_stride, long prefetch) {
    const long block_bytes = agora_packed_block_bytes(type), chunks = scale_bytes(type);
    const int chains = nt >= 6 ? 1 : nt >= 3 ? 2 : 4;
    const __m512i low4 = _mm512_set1_epi8(0x0F), bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[8];
    for (int j = 0; j < nt; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++, p += block_bytes) {
        if (prefetch) {
            // Into L2, not L1: a group's blocks (up to 9.8 KiB for Q8_0) requested into L1 while the
            // current group is read from it filled L1's miss buffers and evicted lines in use. The
            // Q8_0 output head of an 8-token step ran at memory speed (1.7-2.5 ms, now 1.35-1.7);
            // tiles of 16 and 64 tokens measured 10 % and 2 % faster too.
            for (long line = 0; line < block_bytes; line += 64) _mm_prefetch((const char *)p + prefetch + line, _MM_HINT_T1);
        }
        __m512i w[8];
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        if (type == AGORA_PACKED_Q8_0) {
            // w + 128 as unsigned bytes: sum(w * x) = sum((w + 128) * x) - 128 * sum(x), exactly.
            for (int k = 0; k < 8; k++) w[k] = _mm512_xor_si512(_mm512_loadu_si512(p + chunks + 64 * k), bias);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m512i isum = _mm512_sub_epi32(dot_u_avx512(w, xq + at * 32, chains), _mm512_set1_epi32(128 * xisum[at]));
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xd[at]))));
            }
            continue;
        }
        // Q5_0: the fifth bits come first (chunk 0), the nibbles after.
        const long nibbles = chunks + (type == AGORA_PACKED_Q5_0 ? 64 : 0);
        for (int k = 0; k < 4; k++) {
            __m512i v = _mm512_loadu_si512(p + nibbles + 64 * k);
            w[k] = _mm512_and_si512(v, low4);
            w[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
        if (type == AGORA_PACKED_Q5_0) {
            // Bits 4m..4m+3 of each row's 32 go to the four bytes of w[m] (add_fifth_bits_avx2).
            const __m512i bits = _mm512_loadu_si512(p + chunks);
            for (int m = 0; m < 8; m++) {
                const __m512i spread = _mm512_set1_epi32((m / 2) * 0x01010101);
                const __m512i spread_lanes = _mm512_add_epi8(spread, _mm512_set4_epi32(0x0C0C0C0C, 0x08080808, 0x04040404, 0x00000000));
                const __m512i select = _mm512_set1_epi32(m % 2 ? (int)0x80402010 : 0x08040201);
                const __mmask64 set = _mm512_test_epi8_mask(_mm512_shuffle_epi8(bits, spread_lanes), select);
                w[m] = _mm512_or_si512(w[m], _mm512_maskz_mov_epi8(set, _mm512_set1_epi8(16)));
            }
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m512i isum = _mm512_sub_epi32(dot_u_avx512(w, xq + at * 32, chains), _mm512_set1_epi32(16 * xisum[at]));
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_IQ4_NL) {
            // Each nibble looked up as its value + 128 (unsigned, 1...241):
            // sum(v * x) = sum((v + 128) * x) - 128 * sum(x), exactly.
            const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)agora_iq4_table)), bias);
            for (int k = 0; k < 8; k++) w[k] = _mm512_shuffle_epi8(table, w[k]);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m512i isum = _mm512_sub_epi32(dot_u_avx512(w, xq + at * 32, chains), _mm512_set1_epi32(128 * xisum[at]));
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_Q4_0) {
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m512i isum = _mm512_sub_epi32(dot_u_avx512(w, xq + at * 32, chains), _mm512_set1_epi32(8 * xisum[at]));
                acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xd[at]))));
            }
        } else {
            const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m512i isum = dot_u_avx512(w, xq + at * 32, chains);
                __m512 a = _mm512_add_ps(acc[j], _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xd[at]))));
                acc[j] = _mm512_add_ps(a, _mm512_mul_ps(mw, _mm512_set1_ps(xs[at])));
            }
        }
    }
    for (int j = 0; j < nt; j++) _mm512_storeu_ps(out + j * out_stride, acc[j]);
}

// Tiles of eight tokens (thirty-two 512-bit registers hold eight accumulators beside the unpacked
// block); the next group is prefetched when there are four tokens or more to compute (with fewer,
// the kernel waits on memory anyway and the hardware prefetcher keeps up with the one stream).
__attribute__((target("avx2,f16c,avx512f,avx512bw,avx512vnni"), always_inline))
static inline void rows_avx512(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                               const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    const long group_bytes = nb * agora_packed_block_bytes(type);
    for (int g = 0; g < groups; g++, p += group_bytes) {
        float *o = out + 16 * g;
        // The group's first tile asks for the next group; later tiles find it on its way.
        long prefetch = tokens >= 4 ? group_bytes : 0;
        int t = 0;
        for (; t + 8 <= tokens; t += 8, prefetch = 0) {
            const long at = (long)t * nb;
            tile_avx512(type, p, 8, xq + (long)t * n, xd + at, xs + at, xisum + at, nb, o + t * out_stride, out_stride, prefetch);
        }
        const long at = (long)t * nb;
        const int8_t *x = xq + (long)t * n;
        float *ot = o + t * out_stride;
        switch (tokens - t) {
        case 1: tile_avx512(type, p, 1, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 2: tile_avx512(type, p, 2, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 3: tile_avx512(type, p, 3, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 4: tile_avx512(type, p, 4, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 5: tile_avx512(type, p, 5, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 6: tile_avx512(type, p, 6, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        case 7: tile_avx512(type, p, 7, x, xd + at, xs + at, xisum + at, nb, ot, out_stride, prefetch); break;
        default: break;
        }
    }
}

AVX512 static void matmul_avx512(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                                 const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    switch (type) {
    case AGORA_PACKED_Q4_K: case AGORA_PACKED_Q5_K: case AGORA_PACKED_Q6_K:
        agora_packed_k_rows_avx512(type, p, groups, xq, xd, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q8_0: rows_avx512(AGORA_PACKED_Q8_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q4_0: rows_avx512(AGORA_PACKED_Q4_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q5_0: rows_avx512(AGORA_PACKED_Q5_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_IQ4_NL: rows_avx512(AGORA_PACKED_IQ4_NL, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    default: rows_avx512(AGORA_PACKED_Q4_1, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    }
}

void agora_packed_matmul(int type, int use_vnni, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                         const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    if (use_vnni) matmul_avx512(type, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride);
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
