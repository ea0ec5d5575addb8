// Hot loops Swift cannot emit for AVX-512 (it compiles the kernels for one CPU level,
// haswell): C with per-function targets, called only after avx512_available() said yes.
// Each function mirrors a Swift kernel in Sources/Kernels that stays the reference path
// (and the path on CPUs without AVX-512); tests compare the two.
#pragma once
#include <stddef.h>

/// 1 when the CPU has AVX-512F (the only extension these kernels use besides FMA).
int avx512_available(void);

/// Scaled dot-product attention for one head of width 8, L % 16 == 0 (see
/// ScaledDotProductAttention.head8Forward): q, k, v rows at stride ld, o rows at stride
/// ldo; writes o and the rows' log-sum-exp. scratch: 24 * L + 16 floats.
void avx512_attention_head8_forward(int L, float scale, const float *q, const float *k, const float *v,
                                    ptrdiff_t ld, float *o, ptrdiff_t ldo, float *lse, float *scratch);

/// Its backward (see head8Backward): dq, dk, dv overwritten, rows at stride ldd.
/// scratch: 32 * L + 16 floats.
void avx512_attention_head8_backward(int L, float scale, const float *q, const float *k, const float *v,
                                     ptrdiff_t ld, const float *o, const float *dout, ptrdiff_t ldo,
                                     const float *lse, float *dq, float *dk, float *dv, ptrdiff_t ldd,
                                     float *scratch);
