// The AVX-512 kernels that write bfloat16 (bf16_output_kernels.h), compiled twice: rounding in
// software (round_to_bf16 in vector_math.h: any AVX-512 CPU) and with vcvtneps2bf16
// (AVX512-BF16), one instruction for six. Both round to nearest, ties to even, and keep NaNs
// NaN (quiet); the instruction also flushes denormal inputs (|x| < 2^-126, no activation here)
// to signed zero, as oneDNN's conversion on such CPUs does. `native` picks the second.
#include "avx512_kernels.h"
#include "vector_math.h"
#include <string.h>

#define AVX512BF16_ROUNDING __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

AVX512BF16_ROUNDING static inline __m256i round_to_bf16_by_instruction(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }

#define KERNEL(name) name##_software
#define KERNEL_TARGET AVX512
#define ROUND_BF16 round_to_bf16
#include "bf16_output_kernels.h"
#undef KERNEL
#undef KERNEL_TARGET
#undef ROUND_BF16

#define KERNEL(name) name##_native
#define KERNEL_TARGET AVX512BF16_ROUNDING
#define ROUND_BF16 round_to_bf16_by_instruction
#include "bf16_output_kernels.h"

void avx512_groupnorm_affine_bf16(const float *x, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C, const float *scale,
                                  const float *shift, int silu, int native) {
    (native ? affine_bf16_native : affine_bf16_software)(x, NULL, y, pixels, C, scale, shift, silu);
}

void avx512_groupnorm_normalize_bf16(const float *x, uint16_t *xhat, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C,
                                     const float *scale, const float *shift, const float *gamma, const float *beta,
                                     int silu, int native) {
    (native ? normalize_bf16_native : normalize_bf16_software)(x, xhat, y, pixels, C, scale, shift, gamma, beta, silu);
}

void avx512_groupnorm_affine_bf16_input(const uint16_t *x, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C,
                                        const float *scale, const float *shift, int silu, int native) {
    (native ? affine_bf16_native : affine_bf16_software)(NULL, x, y, pixels, C, scale, shift, silu);
}

void avx512_round_to_bf16(const float *x, uint16_t *y, ptrdiff_t count, int native) {
    (native ? round_buffer_native : round_buffer_software)(x, y, count);
}
