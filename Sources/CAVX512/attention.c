// Attention for heads of width 8 with 16-lane vectors running across 16 keys or 16 queries.
//
// The Swift kernel (Sources/Kernels/ScaledDotProductAttention.swift) works in 8-float AVX2
// vectors; with d = 8 one head row is one vector, so its score and P V loops each spend one
// FMA per score. Here a vector holds one channel of 16 rows instead:
//   forward   query blocks of 16: scores of 16 queries against key j are 8 FMAs with k[j][c]
//             broadcast from memory (AVX-512's embedded broadcast costs no extra uop), the
//             row maximum is a lane-wise max, and P V is 8 FMAs per key into 8 accumulators
//             (channel c of 16 output rows): 1 FMA per 2 scores each way.
//   backward  four query rows against key blocks of 16: P, dP and dS for 16 keys at once,
//             rank-4 updates of dV^T and dK^T (kept transposed in scratch, so each block of
//             them is loaded and stored once for four rows), then dQ = dS K per row from the
//             four rows' dS, as 16-lane partial sums reduced once per row.
// Same algebra and the same exp polynomial as the Swift kernel, so results agree to float
// rounding.
#include "avx512_kernels.h"
#include "vector_math.h"
#include <math.h>

AVX512 void avx512_attention_head8_forward(int L, float scale, const float *q, const float *k, const float *v,
                                           ptrdiff_t ld, float *o, ptrdiff_t ldo, float *lse, float *scratch) {
    scratch = align64(scratch);
    float *qT = scratch;        // [8][L]: channel c of every query, scaled
    float *s = scratch + 8 * L; // [L][16]: scores of one query block, key-major
    for (int i = 0; i < L; i++)
        for (int c = 0; c < 8; c++) qT[c * L + i] = q[i * ld + c] * scale;
    for (int i0 = 0; i0 < L; i0 += 16) {
        __m512 qc[8];
        for (int c = 0; c < 8; c++) qc[c] = _mm512_loadu_ps(qT + c * L + i0);
        __m512 m = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < L; j++) {
            const float *kj = k + j * ld;
            __m512 a = _mm512_mul_ps(qc[0], _mm512_set1_ps(kj[0]));
            __m512 b = _mm512_mul_ps(qc[1], _mm512_set1_ps(kj[1]));
            a = _mm512_fmadd_ps(qc[2], _mm512_set1_ps(kj[2]), a);
            b = _mm512_fmadd_ps(qc[3], _mm512_set1_ps(kj[3]), b);
            a = _mm512_fmadd_ps(qc[4], _mm512_set1_ps(kj[4]), a);
            b = _mm512_fmadd_ps(qc[5], _mm512_set1_ps(kj[5]), b);
            a = _mm512_fmadd_ps(qc[6], _mm512_set1_ps(kj[6]), a);
            b = _mm512_fmadd_ps(qc[7], _mm512_set1_ps(kj[7]), b);
            __m512 sj = _mm512_add_ps(a, b);
            _mm512_storeu_ps(s + j * 16, sj);
            m = _mm512_max_ps(m, sj);
        }
        __m512 acc[8], total = _mm512_setzero_ps();
        for (int c = 0; c < 8; c++) acc[c] = _mm512_setzero_ps();
        for (int j = 0; j < L; j++) {
            __m512 p = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s + j * 16), m));
            total = _mm512_add_ps(total, p);
            const float *vj = v + j * ld;
            for (int c = 0; c < 8; c++) acc[c] = _mm512_fmadd_ps(p, _mm512_set1_ps(vj[c]), acc[c]);
        }
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), total);
        float out[8][16], mx[16], tot[16];
        for (int c = 0; c < 8; c++) _mm512_storeu_ps(out[c], _mm512_mul_ps(acc[c], inv));
        _mm512_storeu_ps(mx, m);
        _mm512_storeu_ps(tot, total);
        for (int r = 0; r < 16; r++) {
            float *orow = o + (i0 + r) * ldo;
            for (int c = 0; c < 8; c++) orow[c] = out[c][r];
            lse[i0 + r] = mx[r] + logf(tot[r]);
        }
    }
}

// Where key j, channel c sits in the backward's scratch (see below): blocks of 16 keys, 512
// floats each, holding K * scale, V, dV and dK as [8][16] at offsets 0, 128, 256, 384.
static inline float *block_slot(float *scratch, int j, int c) { return scratch + (j / 16) * 512 + c * 16 + j % 16; }

AVX512 void avx512_attention_head8_backward(int L, float scale, const float *q, const float *k, const float *v,
                                            ptrdiff_t ld, const float *o, const float *dout, ptrdiff_t ldo,
                                            const float *lse, float *dq, float *dk, float *dv, ptrdiff_t ldd,
                                            float *scratch) {
    // Per 16-key block, 512 floats in a row: K * scale (serves the scores and dQ = dS K
    // scale), V, and the dV and dK accumulators, each [8 channels][16 keys]; a block is one
    // pointer plus constant offsets. Interleaved, so the next block's loads never sit at the
    // address of a pending store modulo 4 KB: with four separate arrays 8 L apart they did
    // at L = 128 and 256, and the CPU's store-to-load check held the loads back (backward
    // ran 1.5-2x slower).
    scratch = align64(scratch);
    for (int j = 0; j < L; j++)
        for (int c = 0; c < 8; c++) {
            float *at = block_slot(scratch, j, c);
            at[0] = k[j * ld + c] * scale;
            at[128] = v[j * ld + c];
            at[256] = 0;
            at[384] = 0;
        }
    // Four query rows per pass over the keys: the loads and stores of dV and dK were half
    // the time with one row (x1.25 with two rows, then 4-10% more with four). dS of the four
    // rows goes to a buffer after the blocks, and dQ = dS K is summed per row afterwards.
    float *dsbuf = scratch + 32 * L;
    for (int i = 0; i < L; i += 4) {
        const float *qr[4], *dr[4];
        __m512 Dv[4], lv[4];
        for (int r = 0; r < 4; r++) {
            qr[r] = q + (i + r) * ld; dr[r] = dout + (i + r) * ldo;
            const float *orow = o + (i + r) * ldo;
            float D = 0;
            for (int c = 0; c < 8; c++) D += dr[r][c] * orow[c];
            Dv[r] = _mm512_set1_ps(D); lv[r] = _mm512_set1_ps(lse[i + r]);
        }
        for (int j0 = 0; j0 < L; j0 += 16) {
            const float *kb = scratch + j0 * 32, *vb = kb + 128;
            float *dvb = scratch + j0 * 32 + 256, *dkb = dvb + 128;
            __m512 P[4], ds[4];
            for (int r = 0; r < 4; r++) {
                __m512 s = _mm512_setzero_ps(), dp = _mm512_setzero_ps();
                for (int c = 0; c < 8; c++) {
                    s = _mm512_fmadd_ps(_mm512_load_ps(kb + c * 16), _mm512_set1_ps(qr[r][c]), s);
                    dp = _mm512_fmadd_ps(_mm512_load_ps(vb + c * 16), _mm512_set1_ps(dr[r][c]), dp);
                }
                P[r] = exp_nonpositive(_mm512_sub_ps(s, lv[r]));
                ds[r] = _mm512_mul_ps(P[r], _mm512_sub_ps(dp, Dv[r]));
                _mm512_store_ps(dsbuf + r * L + j0, ds[r]);
            }
            for (int c = 0; c < 8; c++) {
                __m512 av = _mm512_load_ps(dvb + c * 16), ak = _mm512_load_ps(dkb + c * 16);
                for (int r = 0; r < 4; r++) {
                    av = _mm512_fmadd_ps(P[r], _mm512_set1_ps(dr[r][c]), av);
                    ak = _mm512_fmadd_ps(ds[r], _mm512_set1_ps(qr[r][c]), ak);
                }
                _mm512_store_ps(dvb + c * 16, av);
                _mm512_store_ps(dkb + c * 16, ak);
            }
        }
        for (int r = 0; r < 4; r++) {
            __m512 g[8];
            for (int c = 0; c < 8; c++) g[c] = _mm512_setzero_ps();
            for (int j0 = 0; j0 < L; j0 += 16) {
                __m512 d = _mm512_load_ps(dsbuf + r * L + j0);
                const float *kb = scratch + j0 * 32;
                for (int c = 0; c < 8; c++) g[c] = _mm512_fmadd_ps(d, _mm512_load_ps(kb + c * 16), g[c]);
            }
            reduce8(g, dq + (i + r) * ldd);
        }
    }
    for (int j = 0; j < L; j++)
        for (int c = 0; c < 8; c++) {
            const float *at = block_slot(scratch, j, c);
            dv[j * ldd + c] = at[256];
            dk[j * ldd + c] = at[384] * scale;
        }
}
