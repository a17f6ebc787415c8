#ifndef AGORA_KERNELS_H
#define AGORA_KERNELS_H

#include <stdint.h>

// Dot products of one quantized weight row with one row of quantized activations, in the
// activation formats of ggml:
//   32-element blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 weights): `xq` int8 values, `xd` the fp16-rounded
//   scale per block, `xs` the fp16-rounded scale x sum(q) per block (used by Q4_1 and Q5_1 only);
//   256-element super-blocks (K-quants): `xq` int8 values, `xd` one float scale per super-block,
//   `bsums` the int sum of each 16 values.
// Integer sums are exact; the float combination runs in a fixed order that the Swift reference
// kernels (KernelReference.swift) repeat operation for operation, so both give identical bits.
// `n` is the row length.

int agora_cpu_has_avx2(void);

float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q5_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q5_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
// IQ4_NL: blocks of 32, an fp16 d and 16 bytes of nibbles (low: positions 0-15, high: 16-31), each
// an index into the 16 int8 values below (ggml's kvalues_iq4nl); with 32-element activations.
float agora_dot_iq4_nl(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
// IQ4_XS: super-blocks of 256: fp16 d, the high two bits of eight 6-bit sub-block scales (16 bits),
// their low four bits (4 bytes), then eight IQ4_NL blocks' nibbles; with 256-element activations.
float agora_dot_iq4_xs(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
static const int8_t agora_iq4_table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static inline int agora_iq4_value(int index) { return agora_iq4_table[index & 15]; }
// IQ4_XS sub-block j's scale (0...63; the weight is d * (scale - 32)) from a super-block's start.
static inline int agora_iq4_xs_scale(const uint8_t *block, int j) {
    const int high = ((block[2] | (block[3] << 8)) >> (2 * j)) & 3;
    return ((block[4 + j / 2] >> (4 * (j % 2))) & 0xF) | (high << 4);
}
float agora_dot_q2_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q3_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);


// Gives freed heap pages back to the operating system (heap.c): called after loading a model.
void agora_trim_heap(void);

// A spin-wait hint (x86 PAUSE): lets the core idle briefly while a worker thread polls.
static inline void agora_spin_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

// Tokens handled by one call of the batched kernel; longer inputs are split by the caller.
#define AGORA_MAX_BATCH_TOKENS 64

// Packed weights: rows regrouped sixteen at a time so that lane j of a vector always belongs to row
// j of its group (no horizontal sums). A group holds, for each block b of 32 columns in order:
//   the fp16 scales d[16] of the sixteen rows' block b (Q4_1 also the fp16 minimums m[16]);
//   then chunks of 64 bytes, each two halves of 32: chunk k holds, for rows 0..7 and then rows
//   8..15, the four bytes 4k..4k+3 of each row's quantized block data:
//   Q8_0: 8 chunks (int8 weights at block positions 4k..4k+3);               32 + 512 = 544 bytes
//   Q4_0: 4 chunks (nibble bytes: low nibbles are positions 4k.., high 16+4k..); 32 + 256 = 288
//   Q4_1: 4 chunks as Q4_0;                                                     64 + 256 = 320
//   Q5_0: chunk 0 the 32-bit fifth bits of each row, then 4 chunks as Q4_0;     32 + 320 = 352
//   IQ4_NL: as Q4_0 (its nibbles index agora_iq4_table instead of counting from -8)
// The same bytes as the rows themselves, in another order (sixteen rows x 34, 18, 20 or 22 bytes). A
// 512-bit vector takes a whole chunk (sixteen rows); a 256-bit one takes a half (eight rows).
#define AGORA_PACKED_ROWS 16  // rows per group
#define AGORA_PACKED_Q8_0 0
#define AGORA_PACKED_Q4_0 1
#define AGORA_PACKED_Q4_1 2
#define AGORA_PACKED_Q5_0 3
#define AGORA_PACKED_IQ4_NL 7
// K-quants, per super-block of 256 columns: the fp16 d[16] (and dmin[16] for Q4_K/Q5_K), then
// chunks as above over the rest of each row's block bytes in order:
//   Q4_K: 3 chunks of packed 6-bit scales and mins, 32 chunks of nibbles;  64 + 2240 = 2304 bytes
//   Q5_K: 3 chunks of scales, 8 chunks of fifth bits, 32 chunks of nibbles; 64 + 2752 = 2816
//   Q6_K: 32 chunks of low nibbles, 16 of high bit pairs, 4 of int8 scales; 32 + 3328 = 3360,
//         the chunks in the order agora_q6k_line gives
// For K-quants `xd` is one scale per super-block and `xisum` the int sums per 16 values.
#define AGORA_PACKED_Q4_K 4
#define AGORA_PACKED_Q5_K 5
#define AGORA_PACKED_Q6_K 6

// Where chunk k of a Q6_K block's bytes (ql 0-31, qh 32-47, scales 48-51, as in the row) lies in
// the packed block: the scales first, then for each half of the super-block and each c = 0..7 the
// two ql chunks and the qh chunk that hold the same positions. The one-token kernel then reads a
// block front to back, a stream the hardware prefetcher follows; in the row's order a block is
// six streams, each starting with a jump the prefetcher does not follow, and one-thread decoding
// waited on memory at each (a 1B model's tied output head is Q6_K).
static inline int agora_q6k_line(int k) {
    if (k >= 48) return k - 48;
    if (k >= 32) return 4 + 24 * ((k - 32) / 8) + 3 * ((k - 32) % 8) + 2;
    return 4 + 24 * (k / 16) + 3 * (k % 8) + (k % 16) / 8;
}
long agora_packed_block_bytes(int type);
int agora_cpu_has_avx512_vnni(void);

// Groups [0, groups) of packed weights `p` (nb = n / 32 blocks each) times `tokens` activation rows
// (n values each, blocks of 32; `xisum` the integer sum of each block) into
// out[t * out_stride + 16 * g + j]. Every element is computed with exactly the one-row kernel's
// float operations in the same order, so the bits match it for any batch, split and instruction
// set (`use_vnni`: 512-bit AVX-512 VNNI if the CPU has it, else AVX2). tokens <=
// AGORA_MAX_BATCH_TOKENS.
void agora_packed_matmul(int type, int use_vnni, const uint8_t *p, int groups, const int8_t *xq, const float *xd,
                         const float *xs, const int32_t *xisum, int n, int tokens, float *out, long out_stride);

// Float kernels around the matmuls (float_kernels.c), AVX2: each repeats its Swift twin's IEEE
// operations lane by lane, in the same order, so the bits are identical.
// One query head over `count` cached positions (F16 keys/values, `stride` halves apart): scores = q.k *
// scale (FloatKernels.dot's lane order), softmax with DeterministicMath.exp, out = sum of weight * value
// (Attention.attendHead).
// `softcap` > 0: each score s becomes softcap * tanh(s / softcap) (Gemma 2), before the softmax.
void agora_attend_head(const float *query, const uint16_t *keys, const uint16_t *values, long stride, int count,
                       int head_dim, float scale, float softcap, float *scores, float *out);
// `heads` consecutive query heads (head_dim floats each) that share one key/value head, in one pass
// over the cache: each head's scores (row h at scores + h * score_stride) and output (out + h *
// head_dim) are bit for bit agora_attend_head's; only the memory is read once instead of per head.
void agora_attend_group(const float *queries, int heads, const uint16_t *keys, const uint16_t *values, long stride,
                        int count, int head_dim, float scale, float softcap, float *scores, long score_stride, float *out);
// gate[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
void agora_silu_mul(float *gate, const float *up, long n);
// gate[i] = gelu(gate[i]) * up[i], GELU's tanh form (DeterministicMath.gelu).
void agora_gelu_mul(float *gate, const float *up, long n);
// x[i] = cap * tanh(x[i] / cap) (DeterministicMath.softcap).
void agora_softcap(float *x, float cap, long n);
// out[i] = floatFromHalf(halfFromFloat(x[i])): round to the nearest F16, ties to even.
void agora_round_to_half(const float *x, float *out, long n);
// out[i] = halfFromFloat(x[i]) (the KV cache's F16 storage).
void agora_store_half(const float *x, uint16_t *out, long n);
// The largest finite x[i] (-infinity if none; a zero as +0).
float agora_max_finite(const float *x, long n);
// w[i] = exp((x[i] - top) / temperature) for finite x[i], else 0; returns their sum in index order.
float agora_sampling_weights(const float *x, long n, float top, float temperature, float *w);
// QuantizedActivations.quantize32 for `blocks` blocks of 32 floats.
void agora_quantize_blocks32(const float *x, long blocks, int8_t *q, float *d_out, float *dsum_out, int32_t *sum_out);
// QuantizedActivations.quantize256 for `blocks` blocks of 256 floats (scales and sums per 16).
void agora_quantize_blocks256(const float *x, long blocks, int8_t *q, float *d_out, int32_t *sum16_out);

#endif
