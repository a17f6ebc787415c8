#ifndef AGORA_KERNELS_H
#define AGORA_KERNELS_H

#include <stdint.h>

// Dot products of one quantized weight row with one row of quantized activations.
//
// Activations come as blocks of 32: `xq` int8 values, `xd` one float scale per block and `xs`
// the int32 sum of each block's values. Integer block sums are exact; the float combination of
// blocks runs in a fixed order that the Swift reference kernels (KernelReference.swift) repeat
// operation for operation, so both paths give identical bits. `n` is the row length.

int agora_cpu_has_avx2(void);

float agora_dot_q8_0(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);
float agora_dot_q4_0(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);
float agora_dot_q4_1(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);
float agora_dot_q4_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);
float agora_dot_q5_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);
float agora_dot_q6_k(const uint8_t *w, const int8_t *xq, const float *xd, const int32_t *xs, int n);

#endif
