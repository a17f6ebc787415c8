// The packed-row kernels, written once and compiled once per instruction set by packed_kernels.c,
// which defines before including this file:
//   PACKED_TARGET  the clang target features of this copy ("avx2,f16c" or with AVX-512 VNNI);
//   PACKED(name)   the name of a function in this copy;
//   DOT_U, DOT_S   the integer block dots of this copy (unsigned Q4 nibbles, signed Q8 bytes).
// Per output element the float steps are the one-row kernels' (kernels.c), in the same order, so
// every copy gives the same bits as the Swift reference; only exact integer sums differ in how
// they are computed.

// Q4_0 and Q4_1 groups: the 128 nibble bytes of a block are four 32-byte loads; load k holds four
// bytes of each row for block positions 4k..4k+3 (low nibbles) and 16+4k..16+4k+3 (high nibbles).
__attribute__((target(PACKED_TARGET), always_inline))
static inline void PACKED(unpack_q4)(const uint8_t *q, __m256i w[8]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
        w[k] = _mm256_and_si256(v, low4);
        w[k + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
}

__attribute__((target(PACKED_TARGET), always_inline))
static inline void PACKED(unpack_q8)(const uint8_t *q, __m256i w[8]) {
    for (int k = 0; k < 8; k++) w[k] = _mm256_loadu_si256((const __m256i *)(q + 32 * k));
}

__attribute__((target(PACKED_TARGET), always_inline))
static inline __m256 PACKED(halves)(const uint8_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

// One group's eight rows times `nt` tokens (a compile-time constant at every call, so the
// accumulators live in registers and the tokens' dependency chains interleave). `p` is the group's
// first block; token j's activations start at block index `first_token * nb + j * nb`.
__attribute__((target(PACKED_TARGET), always_inline))
static inline void PACKED(tile)(int type, const uint8_t *p, int nt, const int8_t *xq, const float *xd, const float *xs,
                                const int32_t *xisum, int nb, float *out, long out_stride) {
    const long block_bytes = agora_packed_block_bytes(type);
    __m256 acc[AGORA_PACKED_TILE];
    for (int j = 0; j < nt; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, p += block_bytes) {
        __m256i w[8];
        const __m256 dw = PACKED(halves)(p);
        if (type == AGORA_PACKED_Q8_0) {
            PACKED(unpack_q8)(p + 16, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m256i isum = DOT_S(w, xq + at * 32);
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else if (type == AGORA_PACKED_Q4_0) {
            PACKED(unpack_q4)(p + 16, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                // sum((q - 8) * x) = sum(q * x) - 8 * sum(x), exactly.
                __m256i isum = _mm256_sub_epi32(DOT_U(w, xq + at * 32), _mm256_set1_epi32(8 * xisum[at]));
                acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
            }
        } else {
            const __m256 mw = PACKED(halves)(p + 16);
            PACKED(unpack_q4)(p + 32, w);
            for (int j = 0; j < nt; j++) {
                const long at = (long)j * nb + b;
                __m256i isum = DOT_U(w, xq + at * 32);
                __m256 a = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xd[at]))));
                acc[j] = _mm256_add_ps(a, _mm256_mul_ps(mw, _mm256_set1_ps(xs[at])));
            }
        }
    }
    for (int j = 0; j < nt; j++) _mm256_storeu_ps(out + j * out_stride, acc[j]);
}

// Rows [8 * g, 8 * g + 8) of each group g < groups, times `tokens` activation rows, in tiles of
// AGORA_PACKED_TILE tokens: a group's blocks (a few KiB) stay in L1 while each tile re-reads them.
__attribute__((target(PACKED_TARGET), always_inline))
static inline void PACKED(rows)(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                                const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    const int nb = n / 32;
    const long group_bytes = nb * agora_packed_block_bytes(type);
    for (int g = 0; g < groups; g++, p += group_bytes) {
        int t = 0;
        for (; t + AGORA_PACKED_TILE <= tokens; t += AGORA_PACKED_TILE) {
            PACKED(tile)(type, p, AGORA_PACKED_TILE, xq + (long)t * n, xd + (long)t * nb, xs + (long)t * nb,
                         xisum + (long)t * nb, nb, out + t * out_stride + 8 * g, out_stride);
        }
        const int rest = tokens - t;
        const int8_t *x = xq + (long)t * n;
        float *o = out + t * out_stride + 8 * g;
        const long at = (long)t * nb;
        // Each remainder size is its own instantiation, so its accumulators stay in registers too.
        if (rest == 1) PACKED(tile)(type, p, 1, x, xd + at, xs + at, xisum + at, nb, o, out_stride);
        else if (rest == 2) PACKED(tile)(type, p, 2, x, xd + at, xs + at, xisum + at, nb, o, out_stride);
        else if (rest == 3) PACKED(tile)(type, p, 3, x, xd + at, xs + at, xisum + at, nb, o, out_stride);
    }
}

__attribute__((target(PACKED_TARGET)))
static void PACKED(matmul)(int type, const uint8_t *p, int groups, const int8_t *xq, const float *xd, const float *xs,
                           const int32_t *xisum, int n, int tokens, float *out, long out_stride) {
    // One instantiation per weight type, so each inner loop is branch-free.
    switch (type) {
    case AGORA_PACKED_Q8_0: PACKED(rows)(AGORA_PACKED_Q8_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    case AGORA_PACKED_Q4_0: PACKED(rows)(AGORA_PACKED_Q4_0, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    default: PACKED(rows)(AGORA_PACKED_Q4_1, p, groups, xq, xd, xs, xisum, n, tokens, out, out_stride); break;
    }
}
