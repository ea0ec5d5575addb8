// C = A B (+ C) for the U-Net's linears: many rows (pixels), few columns (channels, a
// multiple of 16). OpenBLAS packs B for every call and runs these skinny shapes (k and n of
// 16-384) at a quarter to a third of the FMA peak; here a 6-row x 64-column tile of C stays
// in 24 registers while k runs, each step one load of B per 16 columns, one broadcast of A
// per row and 6 x 4 FMAs. (The weight gradients' A^T B, a sum over many rows, stays with
// OpenBLAS: this loop order measured 0.5-1.2x it there.)
#include "avx512_kernels.h"
#include "vector_math.h"

// One tile: mr rows (<= 6) by nv 16-float column groups (<= 4). Always inlined with
// constant mr and nv, so the accumulator array becomes registers.
AVX512 static inline __attribute__((always_inline)) void tile(int mr, int nv, ptrdiff_t K, const float *A, ptrdiff_t lda,
                                                             const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                                                             int accumulate) {
    __m512 acc[6][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = accumulate ? _mm512_loadu_ps(C + r * ldc + 16 * v) : _mm512_setzero_ps();
    for (ptrdiff_t k = 0; k < K; k++) {
        __m512 b[4];
        for (int v = 0; v < nv; v++) b[v] = _mm512_loadu_ps(B + k * ldb + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 a = _mm512_set1_ps(A[r * lda + k]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(a, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(C + r * ldc + 16 * v, acc[r][v]);
}

#define TILE(mr, nv) tile(mr, nv, K, A + m0 * lda, lda, B + n0, ldb, C + m0 * ldc + n0, ldc, accumulate)
#define ROWS(nv) \
    switch (mr) { \
    case 6: TILE(6, nv); break; case 5: TILE(5, nv); break; case 4: TILE(4, nv); break; \
    case 3: TILE(3, nv); break; case 2: TILE(2, nv); break; default: TILE(1, nv); break; \
    }

AVX512 void avx512_gemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const float *A, ptrdiff_t lda, const float *B,
                        ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate) {
    // Column panels outside, so one panel of B (K x 64) serves every row block from cache.
    for (ptrdiff_t n0 = 0; n0 < N; n0 += 64) {
        int nv = (int)((N - n0) / 16 < 4 ? (N - n0) / 16 : 4);
        for (ptrdiff_t m0 = 0; m0 < M; m0 += 6) {
            int mr = (int)(M - m0 < 6 ? M - m0 : 6);
            switch (nv) {
            case 4: ROWS(4); break;
            case 3: ROWS(3); break;
            case 2: ROWS(2); break;
            default: ROWS(1); break;
            }
        }
    }
}
