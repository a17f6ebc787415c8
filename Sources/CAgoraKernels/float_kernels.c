// AVX2 float kernels for the parts of a forward step around the matmuls: attention over one head,
// SiLU gating, F16 rounding and int8 activation blocks. Each performs, lane by lane, exactly the
// IEEE operations of its Swift twin (DeterministicMath, FloatKernels, Half, QuantizedActivations,
// InferenceContext.attendHead), in the same order, with contraction off: the bits are identical.
#pragma clang fp contract(off)

#include "agora_kernels.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,f16c")))

// DeterministicMath.exp on eight lanes: the same constants and steps, special cases by blending.
AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.442695041f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693145751953125f))),
                                   _mm256_mul_ps(n, _mm256_set1_ps(1.428606765330187e-06f)));
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 120));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 24));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f / 6));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.0f));
    // In range, n is an integer in [-126, 128]; out of range the lanes are replaced below.
    const __m256i k = _mm256_cvttps_epi32(n);
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_min_epi32(k, _mm256_set1_epi32(127)), _mm256_set1_epi32(127)), 23);
    __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    const __m256 huge = _mm256_mul_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_set1_epi32(254 << 23))), _mm256_set1_ps(2.0f));
    result = _mm256_blendv_ps(result, huge, _mm256_castsi256_ps(_mm256_cmpgt_epi32(k, _mm256_set1_epi32(127))));
    result = _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, _mm256_set1_ps(88.72283f), _CMP_GT_OQ));
    result = _mm256_blendv_ps(result, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ));
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

// DeterministicMath.tanh on eight lanes: (1 - e^-2|x|) / (1 + e^-2|x|), with the sign of x.
AVX2 static inline __m256 tanh8(__m256 x) {
    const __m256 magnitude = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), magnitude));
    const __m256 t = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), e), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    return _mm256_blendv_ps(t, _mm256_xor_ps(t, _mm256_set1_ps(-0.0f)), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// DeterministicMath.gelu on eight lanes.
AVX2 static inline __m256 gelu8(__m256 x) {
    const __m256 inner = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.7978845608f), x),
                                       _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), x)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), tanh8(inner)));
}

// DeterministicMath.softcap on eight lanes: cap * tanh(x / cap).
AVX2 static inline __m256 softcap8(__m256 x, float cap) {
    return _mm256_mul_ps(_mm256_set1_ps(cap), tanh8(_mm256_div_ps(x, _mm256_set1_ps(cap))));
}

// One lane of softcap8, for scores computed one at a time.
AVX2 static inline float softcap1(float x, float cap) {
    float lanes[8] = {x};
    _mm256_storeu_ps(lanes, softcap8(_mm256_loadu_ps(lanes), cap));
    return lanes[0];
}

// Eight cached F16 values widened to floats (exact: every half is a float).
AVX2 static inline __m256 load_half8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

// FloatKernels.dot of floats with cached F16 values: element i in lane i % 16 (two vectors of eight), then 16 -> 8 -> 4 -> 2 -> 1.
AVX2 static inline float dot16(const float *x, const uint16_t *y, int n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_loadu_ps(x + i), load_half8(y + i)));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), load_half8(y + i + 8)));
    }
    __m256 a = _mm256_add_ps(lo, hi);
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    float acc = _mm_cvtss_f32(c) + _mm_cvtss_f32(_mm_shuffle_ps(c, c, 1));
    for (; i < n; i++) acc = acc + x[i] * _cvtsh_ss(y[i]);
    return acc;
}

// Asks for the cache rows attention reads next: key row p + 8 and value row p (128 bytes each
// for a 64-wide head). A step's cache rows have mostly left the CPU's caches (the layers' weights
// streamed through since), and each call is a short new stream the hardware prefetcher is slow to
// pick up; the values are read right after the scores, so they are asked for during them.
AVX2 static inline void prefetch_rows(const uint16_t *keys, const uint16_t *values, long stride, int p) {
    _mm_prefetch((const char *)(keys + (p + 8) * stride), _MM_HINT_T0);
    _mm_prefetch((const char *)(keys + (p + 8) * stride) + 64, _MM_HINT_T0);
    _mm_prefetch((const char *)(values + p * stride), _MM_HINT_T0);
    _mm_prefetch((const char *)(values + p * stride) + 64, _MM_HINT_T0);
}

AVX2 void agora_attend_head(const float *query, const uint16_t *keys, const uint16_t *values, long stride, int count,
                            int head_dim, float scale, float softcap, float *scores, float *out) {
    float max_score = -__builtin_inff();
    for (int p = 0; p < count; p++) {
        prefetch_rows(keys, values, stride, p);
        float s = dot16(query, keys + p * stride, head_dim) * scale;
        if (softcap > 0) s = softcap1(s, softcap);
        scores[p] = s;
        max_score = s >= max_score ? s : max_score;  // Swift's max(maxScore, s)
    }
    const __m256 m = _mm256_set1_ps(max_score);
    int p = 0;
    for (; p + 8 <= count; p += 8) _mm256_storeu_ps(scores + p, exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + p), m)));
    if (p < count) {
        float tail[8] = {0};
        memcpy(tail, scores + p, (size_t)(count - p) * sizeof(float));
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(tail), m));
        _mm256_storeu_ps(tail, e);
        memcpy(scores + p, tail, (size_t)(count - p) * sizeof(float));
    }
    float sum = 0;
    for (p = 0; p < count; p++) sum = sum + scores[p];
    // Weights once per position; then every output element adds weight * value in position order.
    for (p = 0; p < count; p++) scores[p] = scores[p] / sum;
    if (head_dim == 64) {
        __m256 acc[8];
        for (int c = 0; c < 8; c++) acc[c] = _mm256_setzero_ps();
        for (p = 0; p < count; p++) {
            const __m256 w = _mm256_set1_ps(scores[p]);
            const uint16_t *v = values + p * stride;
            for (int c = 0; c < 8; c++) acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(w, load_half8(v + 8 * c)));
        }
        for (int c = 0; c < 8; c++) _mm256_storeu_ps(out + 8 * c, acc[c]);
        return;
    }
    int i = 0;
    for (; i + 8 <= head_dim; i += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (p = 0; p < count; p++) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(scores[p]), load_half8(values + p * stride + i)));
        _mm256_storeu_ps(out + i, acc);
    }
    for (; i < head_dim; i++) {
        float acc = 0;
        for (p = 0; p < count; p++) acc = acc + scores[p] * _cvtsh_ss(values[p * stride + i]);
        out[i] = acc;
    }
}

// Weighted sums of 64-wide values for HEADS heads at once: each value row is loaded once for all
// heads, a quarter row (16 floats) at a time so that the accumulators stay in registers. Per head
// and element, the same additions in position order as agora_attend_head.
#define ATTEND_VALUES64(HEADS)                                                                         \
    AVX2 static void attend_values64_##HEADS(const float *weights, long weight_stride, const uint16_t *values, \
                                              long stride, int count, float *out) {                  \
        for (int c = 0; c < 64; c += 16) {                                                             \
            __m256 lo[HEADS], hi[HEADS];                                                               \
            for (int h = 0; h < HEADS; h++) { lo[h] = _mm256_setzero_ps(); hi[h] = _mm256_setzero_ps(); } \
            for (int p = 0; p < count; p++) {                                                          \
                const __m256 v0 = load_half8(values + p * stride + c);                                 \
                const __m256 v1 = load_half8(values + p * stride + c + 8);                             \
                for (int h = 0; h < HEADS; h++) {                                                      \
                    const __m256 w = _mm256_set1_ps(weights[h * weight_stride + p]);                   \
                    lo[h] = _mm256_add_ps(lo[h], _mm256_mul_ps(w, v0));                                \
                    hi[h] = _mm256_add_ps(hi[h], _mm256_mul_ps(w, v1));                                \
                }                                                                                      \
            }                                                                                          \
            for (int h = 0; h < HEADS; h++) {                                                          \
                _mm256_storeu_ps(out + h * 64 + c, lo[h]);                                             \
                _mm256_storeu_ps(out + h * 64 + c + 8, hi[h]);                                         \
            }                                                                                          \
        }                                                                                              \
    }
ATTEND_VALUES64(2)
ATTEND_VALUES64(3)
ATTEND_VALUES64(4)

AVX2 void agora_attend_group(const float *queries, int heads, const uint16_t *keys, const uint16_t *values, long stride,
                             int count, int head_dim, float scale, float softcap, float *scores, long score_stride, float *out) {
    if (head_dim != 64 || heads < 2 || heads > 4) {
        for (int h = 0; h < heads; h++)
            agora_attend_head(queries + h * head_dim, keys, values, stride, count, head_dim, scale, softcap,
                              scores + h * score_stride, out + h * head_dim);
        return;
    }
    // Scores: each key row read once for all heads.
    float max_score[4] = {-__builtin_inff(), -__builtin_inff(), -__builtin_inff(), -__builtin_inff()};
    for (int p = 0; p < count; p++) {
        const uint16_t *key = keys + p * stride;
        prefetch_rows(keys, values, stride, p);
        for (int h = 0; h < heads; h++) {
            float s = dot16(queries + h * 64, key, 64) * scale;
            if (softcap > 0) s = softcap1(s, softcap);
            scores[h * score_stride + p] = s;
            max_score[h] = s >= max_score[h] ? s : max_score[h];
        }
    }
    // Softmax per head, exactly as agora_attend_head.
    for (int h = 0; h < heads; h++) {
        float *row = scores + h * score_stride;
        const __m256 m = _mm256_set1_ps(max_score[h]);
        int p = 0;
        for (; p + 8 <= count; p += 8) _mm256_storeu_ps(row + p, exp8(_mm256_sub_ps(_mm256_loadu_ps(row + p), m)));
        if (p < count) {
            float tail[8] = {0};
            memcpy(tail, row + p, (size_t)(count - p) * sizeof(float));
            _mm256_storeu_ps(tail, exp8(_mm256_sub_ps(_mm256_loadu_ps(tail), m)));
            memcpy(row + p, tail, (size_t)(count - p) * sizeof(float));
        }
        float sum = 0;
        for (p = 0; p < count; p++) sum = sum + row[p];
        for (p = 0; p < count; p++) row[p] = row[p] / sum;
    }
    switch (heads) {
    case 2: attend_values64_2(scores, score_stride, values, stride, count, out); break;
    case 3: attend_values64_3(scores, score_stride, values, stride, count, out); break;
    default: attend_values64_4(scores, score_stride, values, stride, count, out); break;
    }
}

AVX2 void agora_gelu_mul(float *gate, const float *up, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(gate + i, _mm256_mul_ps(gelu8(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    for (; i < n; i++) {
        float tail[8] = {gate[i]};
        _mm256_storeu_ps(tail, gelu8(_mm256_loadu_ps(tail)));
        gate[i] = tail[0] * up[i];
    }
}

AVX2 void agora_softcap(float *x, float cap, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, softcap8(_mm256_loadu_ps(x + i), cap));
    for (; i < n; i++) x[i] = softcap1(x[i], cap);
}

AVX2 void agora_silu_mul(float *gate, const float *up, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(gate + i);
        __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) {
        float tail[8] = {gate[i]};
        __m256 x = _mm256_loadu_ps(tail);
        __m256 silu = _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)))));
        _mm256_storeu_ps(tail, silu);
        gate[i] = tail[0] * up[i];
    }
}

// floatFromHalf(halfFromFloat(x)): F16C's conversions round to nearest even like the Swift ones;
// only NaNs differ (F16C keeps payload bits), so they are set to the Swift result, sign | 0x7FC00000.
AVX2 static inline __m256 round_half8(__m256 x) {
    __m256 r = _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256 nan = _mm256_or_ps(_mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))),
                              _mm256_castsi256_ps(_mm256_set1_epi32(0x7FC00000)));
    return _mm256_blendv_ps(r, nan, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

AVX2 void agora_round_to_half(const float *x, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, round_half8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tail[8] = {0};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(tail, round_half8(_mm256_loadu_ps(tail)));
        memcpy(out + i, tail, (size_t)(n - i) * sizeof(float));
    }
}

// halfFromFloat for the KV cache: F16C rounds to nearest even like the Swift conversion; NaNs
// become the Swift result, sign | 0x7E00.
AVX2 void agora_store_half(const float *x, uint16_t *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 unordered = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        if (!_mm256_testz_ps(unordered, unordered)) {
            uint16_t lanes[8];
            float values[8];
            _mm_storeu_si128((__m128i *)lanes, h);
            _mm256_storeu_ps(values, v);
            for (int k = 0; k < 8; k++)
                if (values[k] != values[k]) {
                    uint32_t bits;
                    memcpy(&bits, &values[k], 4);
                    lanes[k] = (uint16_t)(((bits >> 16) & 0x8000) | 0x7E00);
                }
            h = _mm_loadu_si128((const __m128i *)lanes);
        }
        _mm_storeu_si128((__m128i *)(out + i), h);
    }
    for (; i < n; i++) {
        float v = x[i];
        if (v != v) {
            uint32_t bits;
            memcpy(&bits, &v, 4);
            out[i] = (uint16_t)(((bits >> 16) & 0x8000) | 0x7E00);
        } else {
            out[i] = _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        }
    }
}

// QuantizedActivations.quantize32 for `blocks` consecutive blocks of 32: amax, d = amax / 127,
// q = round-half-even(x * (127 / amax)) by the 1.5 * 2^23 addition, d and d * sum(q) rounded to fp16.
AVX2 void agora_quantize_blocks32(const float *x, long blocks, int8_t *q, float *d_out, float *dsum_out, int32_t *sum_out) {
    const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    for (long b = 0; b < blocks; b++) {
        const float *v = x + b * 32;
        __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8), v2 = _mm256_loadu_ps(v + 16), v3 = _mm256_loadu_ps(v + 24);
        // max is exact whatever the order (Swift's max(amax, |x|) with NaN-free input).
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, sign_mask), _mm256_and_ps(v1, sign_mask)),
                                 _mm256_max_ps(_mm256_and_ps(v2, sign_mask), _mm256_and_ps(v3, sign_mask)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127;
        const float inverse = amax != 0 ? 127 / amax : 0;
        const __m256 inv = _mm256_set1_ps(inverse);
        const __m256i bias = _mm256_set1_epi32(0x4B400000);
        __m256i q0 = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(v0, inv), magic)), bias);
        __m256i q1 = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(v1, inv), magic)), bias);
        __m256i q2 = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(v2, inv), magic)), bias);
        __m256i q3 = _mm256_sub_epi32(_mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(v3, inv), magic)), bias);
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        const int32_t sum = _mm_cvtsi128_si32(s4);
        // int32 -> int8 in element order: packs interleave 128-bit lanes, the permute restores it.
        __m256i w01 = _mm256_packs_epi32(q0, q1), w23 = _mm256_packs_epi32(q2, q3);
        __m256i bytes = _mm256_packs_epi16(w01, w23);
        bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(q + b * 32), bytes);
        __m256 pair = _mm256_setr_ps(d, d * (float)sum, 0, 0, 0, 0, 0, 0);
        float rounded[8];
        _mm256_storeu_ps(rounded, round_half8(pair));
        d_out[b] = rounded[0];
        dsum_out[b] = rounded[1];
        sum_out[b] = sum;
    }
}

// QuantizedActivations.quantize256 for `blocks` consecutive blocks of 256 (ggml's Q8_K): the
// extreme is the first value of the largest magnitude (NaNs skipped, as the scalar scan's `>`
// skips them); q = min(127, round-half-even(x * (-127 / extreme))), where MINPS gives 127 for a
// NaN product as Swift's min(127, r) does, and at least -128 (reached only when the inverse
// overflowed); the scale 1 / (-127 / extreme) and the int sums of each 16. An all-zero (or all-NaN) block is zeros with scale 0.
AVX2 void agora_quantize_blocks256(const float *x, long blocks, int8_t *q, float *d_out, int32_t *sum16_out) {
    const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256 top = _mm256_set1_ps(127.0f), bottom = _mm256_set1_ps(-128.0f);
    for (long b = 0; b < blocks; b++) {
        const float *v = x + b * 256;
        int8_t *out = q + b * 256;
        int32_t *sums = sum16_out + b * 16;
        // MAXPS returns its second operand when the first is NaN: NaNs never enter the maximum.
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 256; i += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(v + i), sign_mask), m);
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        const float amax = _mm_cvtss_f32(m4);
        if (amax == 0) {
            memset(out, 0, 256);
            memset(sums, 0, 16 * sizeof(int32_t));
            d_out[b] = 0;
            continue;
        }
        // The first position holding the maximum magnitude (amax is one of the block's values).
        int first = 0;
        const __m256 target = _mm256_set1_ps(amax);
        for (int i = 0; i < 256; i += 8) {
            const int hits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(v + i), sign_mask), target, _CMP_EQ_OQ));
            if (hits) { first = i + __builtin_ctz((unsigned)hits); break; }
        }
        const float inverse = -127.0f / v[first];
        const __m256 inv = _mm256_set1_ps(inverse);
        for (int i = 0; i < 256; i += 32) {
            __m256i qi[4];
            for (int k = 0; k < 4; k++) {
                const __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i + 8 * k), inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                qi[k] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(r, top), bottom));
            }
            for (int h = 0; h < 2; h++) {
                __m256i s = _mm256_add_epi32(qi[2 * h], qi[2 * h + 1]);
                __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
                sums[i / 16 + h] = _mm_cvtsi128_si32(s4);
            }
            // int32 -> int8 in element order (every value is in -128...127, so the packs are exact).
            __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
            bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(out + i), bytes);
        }
        d_out[b] = 1.0f / inverse;
    }
}

// FloatKernels.maxFinite: the largest finite x[i] (max is exact in any order), -inf if none; + 0
// makes a zero result +0 whichever zero won.
AVX2 float agora_max_finite(const float *x, long n) {
    const __m256 infinity = _mm256_set1_ps(__builtin_inff()), lowest = _mm256_set1_ps(-__builtin_inff());
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 best = lowest;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 finite = _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), infinity, _CMP_LT_OQ);  // false for NaN and +-inf
        best = _mm256_max_ps(best, _mm256_blendv_ps(lowest, v, finite));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, best);
    float top = -__builtin_inff();
    for (int k = 0; k < 8; k++) top = lanes[k] > top ? lanes[k] : top;
    for (; i < n; i++) top = (__builtin_isfinite(x[i]) && x[i] > top) ? x[i] : top;
    return top + 0.0f;
}

// FloatKernels.samplingWeights: w[i] = exp((x[i] - top) / temperature) for finite x[i], else 0;
// returns the sum of w in index order (one addition at a time, as the Swift loop).
AVX2 static inline __m256 sampling_weight8(__m256 v, __m256 top, __m256 temperature) {
    const __m256 infinity = _mm256_set1_ps(__builtin_inff());
    __m256 finite = _mm256_cmp_ps(_mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))), infinity, _CMP_LT_OQ);
    __m256 e = exp8(_mm256_div_ps(_mm256_sub_ps(v, top), temperature));
    return _mm256_blendv_ps(_mm256_setzero_ps(), e, finite);
}

AVX2 float agora_sampling_weights(const float *x, long n, float top, float temperature, float *w) {
    const __m256 t = _mm256_set1_ps(top), temp = _mm256_set1_ps(temperature);
    float total = 0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(w + i, sampling_weight8(_mm256_loadu_ps(x + i), t, temp));
        for (int k = 0; k < 8; k++) total = total + w[i + k];
    }
    if (i < n) {
        float tail[8] = {0};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(tail, sampling_weight8(_mm256_loadu_ps(tail), t, temp));
        memcpy(w + i, tail, (size_t)(n - i) * sizeof(float));
        for (; i < n; i++) total = total + w[i];
    }
    return total;
}

#else

void agora_attend_head(const float *query, const uint16_t *keys, const uint16_t *values, long stride, int count,
                       int head_dim, float scale, float softcap, float *scores, float *out) {
    (void)query; (void)keys; (void)values; (void)stride; (void)count; (void)head_dim; (void)scale; (void)softcap; (void)scores; (void)out;
}
void agora_attend_group(const float *queries, int heads, const uint16_t *keys, const uint16_t *values, long stride,
                        int count, int head_dim, float scale, float softcap, float *scores, long score_stride, float *out) {
    (void)queries; (void)heads; (void)keys; (void)values; (void)stride; (void)count; (void)head_dim; (void)scale;
    (void)softcap; (void)scores; (void)score_stride; (void)out;
}
void agora_silu_mul(float *gate, const float *up, long n) { (void)gate; (void)up; (void)n; }
void agora_gelu_mul(float *gate, const float *up, long n) { (void)gate; (void)up; (void)n; }
void agora_softcap(float *x, float cap, long n) { (void)x; (void)cap; (void)n; }
void agora_round_to_half(const float *x, float *out, long n) { (void)x; (void)out; (void)n; }
void agora_store_half(const float *x, uint16_t *out, long n) { (void)x; (void)out; (void)n; }
void agora_quantize_blocks32(const float *x, long blocks, int8_t *q, float *d_out, float *dsum_out, int32_t *sum_out) {
    (void)x; (void)blocks; (void)q; (void)d_out; (void)dsum_out; (void)sum_out;
}
void agora_quantize_blocks256(const float *x, long blocks, int8_t *q, float *d_out, int32_t *sum16_out) {
    (void)x; (void)blocks; (void)q; (void)d_out; (void)sum16_out;
}
float agora_max_finite(const float *x, long n) { (void)x; (void)n; return 0; }
float agora_sampling_weights(const float *x, long n, float top, float temperature, float *w) {
    (void)x; (void)n; (void)top; (void)temperature; (void)w; return 0;
}

#endif
