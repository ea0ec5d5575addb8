// Hot loops Swift cannot emit for AVX-512 (it compiles the kernels for one CPU level,
// haswell): C with per-function targets, called only where the CPU has AVX-512F (the check
// is CPeak's peak_has_avx512, through KernelPath).
// Each function mirrors a Swift kernel in Sources/Kernels that stays the reference path
// (and the path on CPUs without AVX-512); tests compare the two.
#pragma once
#include <stddef.h>
#include <stdint.h>

/// Scaled dot-product attention for one head of width 8, L % 16 == 0 (see
/// ScaledDotProductAttention.head8Forward): q, k, v rows at stride ld, o rows at stride
/// ldo; writes o and the rows' log-sum-exp. scratch: 24 * L + 16 floats.
void avx512_attention_head8_forward(int L, float scale, const float *q, const float *k, const float *v,
                                    ptrdiff_t ld, float *o, ptrdiff_t ldo, float *lse, float *scratch);

/// Its backward (see head8Backward): dq, dk, dv overwritten, rows at stride ldd.
/// scratch: 36 * L + 16 floats.
void avx512_attention_head8_backward(int L, float scale, const float *q, const float *k, const float *v,
                                     ptrdiff_t ld, const float *o, const float *dout, ptrdiff_t ldo,
                                     const float *lse, float *dq, float *dk, float *dv, ptrdiff_t ldd,
                                     float *scratch);

/// The same two in bf16 arithmetic (PyTorch autocast's: q, k, v, o, dO, P and dS rounded to
/// bf16 as product operands, fp32 sums and softmax), for CPUs with AVX512-BF16 (the caller
/// checks). Same arguments, with q, k, v and o fp32 (bf16_io = 0) or bf16 already (bf16_io = 1:
/// uint16_t rows, o written in bf16); dO, lse and the gradients fp32 either way. Scratch:
/// 24 * L + 16 floats forward, 32 * L + 16 backward.
void avx512bf16_attention_head8_forward(int L, float scale, const void *q, const void *k, const void *v,
                                        ptrdiff_t ld, void *o, ptrdiff_t ldo, float *lse, float *scratch, int bf16_io);
void avx512bf16_attention_head8_backward(int L, float scale, const void *q, const void *k, const void *v,
                                         ptrdiff_t ld, const void *o, const float *dout, ptrdiff_t ldo,
                                         const float *lse, float *dq, float *dk, float *dv, ptrdiff_t ldd,
                                         float *scratch, int bf16_io);

/// GroupNorm's per-image loops for C % 16 == 0, as GroupNormKernel's functions of the same
/// names: channel sums of (x - shift) and its square; y = x scale + shift (then SiLU when
/// silu != 0; y may alias x); dz = dy (times silu'(z)) and its channel sums; dx = a dz +
/// b (x - mean) + d (+ addend, which may be NULL) written over dz.
void avx512_groupnorm_moments(const float *x, ptrdiff_t pixels, ptrdiff_t C, const float *shift,
                              float *sum, float *sumSquares);
void avx512_groupnorm_affine(const float *x, float *y, ptrdiff_t pixels, ptrdiff_t C, const float *scale,
                             const float *shift, int silu);
void avx512_groupnorm_affine_bf16(const float *x, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C, const float *scale,
                                  const float *shift, int silu, int native);
void avx512_groupnorm_backward_sums(const float *x, const float *dy, float *dz, ptrdiff_t pixels, ptrdiff_t C,
                                    const float *mean, const float *rstd, const float *gamma, const float *beta,
                                    int silu, float *sumDz, float *sumDzXhat);
void avx512_groupnorm_input_gradient(const float *x, float *dz, ptrdiff_t pixels, ptrdiff_t C, const float *mean,
                                     const float *a, const float *b, const float *d, const float *addend);
/// The same on a bf16 run's recorded xhat (bf16): normalize writes xhat (when not NULL) and
/// y from the rounded xhat; affine_bf16_input maps bf16 to bf16; dx = a dz + b xhat + d.
void avx512_groupnorm_normalize_bf16(const float *x, uint16_t *xhat, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C,
                                     const float *scale, const float *shift, const float *gamma, const float *beta,
                                     int silu, int native);
void avx512_groupnorm_affine_bf16_input(const uint16_t *x, uint16_t *y, ptrdiff_t pixels, ptrdiff_t C,
                                        const float *scale, const float *shift, int silu, int native);
void avx512_groupnorm_backward_sums_bf16(const uint16_t *xhat, const float *dy, float *dz, ptrdiff_t pixels,
                                         ptrdiff_t C, const float *gamma, const float *beta, int silu, float *sumDz,
                                         float *sumDzXhat);
void avx512_groupnorm_input_gradient_bf16(const uint16_t *xhat, float *dz, ptrdiff_t pixels, ptrdiff_t C,
                                          const float *a, const float *b, const float *d, const float *addend);

/// y[i] = x[i] rounded to bfloat16 (nearest, ties to even; NaN stays NaN), i < count.
/// The functions that write bf16 take `native`: 1 rounds with vcvtneps2bf16 (AVX512-BF16
/// only; it also flushes denormal inputs to zero), 0 in software (bf16_output.c).
void avx512_round_to_bf16(const float *x, uint16_t *y, ptrdiff_t count, int native);

/// C[M, N] = A[M, K] B[K, N] (+ C when accumulate != 0), all row-major with leading
/// dimensions lda, ldb, ldc; N % 16 == 0.
void avx512_gemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *A, ptrdiff_t lda, const float *B,
                 ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate);
