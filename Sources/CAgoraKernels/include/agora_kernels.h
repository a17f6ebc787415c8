#ifndef AGORA_KERNELS_H
#define AGORA_KERNELS_H

#include <stdint.h>

// Dot products of one quantized weight row with one row of quantized activations, in the
// activation formats of ggml:
//   32-element blocks (Q8_0, Q4_0, Q4_1 weights): `xq` int8 values, `xd` the fp16-rounded scale per
//   block, `xs` the fp16-rounded scale x sum(q) per block (used by Q4_1 only);
//   256-element super-blocks (K-quants): `xq` int8 values, `xd` one float scale per super-block,
//   `bsums` the int sum of each 16 values.
// Integer sums are exact; the float combination runs in a fixed order that the Swift reference
// kernels (KernelReference.swift) repeat operation for operation, so both give identical bits.
// `n` is the row length.

int agora_cpu_has_avx2(void);

float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const float *xs, int n);
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *bsums, int n);


// Batched forms: rows [0, rows) of `w` (row_bytes apart) times `tokens` activation rows (each n
// values, blocks of 32), into out[t * out_stride + r]. Each weight block is unpacked once for all
// tokens; every (row, token) result is computed with exactly the single-row kernel's operations,
// so batching changes no bit. tokens <= AGORA_MAX_BATCH_TOKENS.
#define AGORA_MAX_BATCH_TOKENS 64
void agora_matmul_q8_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride);
void agora_matmul_q4_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride);
void agora_matmul_q4_1(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                       int n, int tokens, float *out, long out_stride);

// One activation row against `rows` weight rows, eight rows at a time: the eight rows' block sums
// are reduced together and their float accumulators live in the lanes of one vector, each lane
// doing exactly the single-row kernel's operations (so the bits are the same). out[r] for r < rows.
void agora_gemv_q8_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out);
void agora_gemv_q4_1(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out);
void agora_gemv_q4_0(const uint8_t *w, long row_bytes, int rows, const int8_t *xq, const float *xd, const float *xs,
                     int n, float *out);

#endif
