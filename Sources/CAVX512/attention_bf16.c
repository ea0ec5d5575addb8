// Attention for heads of width 8 in bf16 runs (--precision bf16), on CPUs with AVX512-BF16.
//
// The arithmetic of PyTorch autocast's bf16 attention: q, k, v, o and dO rounded to bf16
// (round to nearest even) where the kernel packs them, products in vdpbf16ps (two bf16
// products summed into each fp32 lane), sums, softmax, log-sum-exp, D = rowsum(dO o) and the
// dS arithmetic in fp32; P and dS rounded to bf16 where they become a product's operand.
// The loops follow the fp32 kernels (attention.c); a 32-bit lane now holds a pair:
//   forward   16 queries per vector as before: scores are 4 dot products with a broadcast
//             pair of k[j]'s channels (8 FMAs in fp32), and P V takes two keys per step:
//             P of keys j, j+1 interleaved into pairs against (v[j][c], v[j+1][c]).
//   backward  16 keys per vector, now eight query rows per pass (pairs of rows are the
//             pairs of dV = P^T dO and dK = dS^T Q, so eight rows cost what four did); dQ =
//             dS K per row over 32 keys a step from dS kept in bf16.
// The exp is 2^x with log2(e) folded into the score scale and a degree-3 polynomial: P is
// rounded to bf16 anyway (see exp2_bf16).
#include "avx512_kernels.h"
#include "vector_math.h"
#include <math.h>
#include <string.h>

#define AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512bf16,fma")))

// bf16 bits of x, round to nearest even (as vcvtneps2bf16; NaN stays NaN).
static inline uint32_t bf16_bits(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (b >> 16) | 0x40;
    return (b + 0x7fffu + ((b >> 16) & 1)) >> 16;
}

static inline float bf16_round(float x) {
    uint32_t b = bf16_bits(x) << 16;
    float r;
    memcpy(&r, &b, 4);
    return r;
}

// Two floats as one 32-bit lane of bf16 pairs: lo in the low half (the first of a pair).
static inline uint32_t bf16_pair(float lo, float hi) { return bf16_bits(lo) | bf16_bits(hi) << 16; }

AVX512BF16 static inline __m512bh pair_bcast(const uint32_t *p) { return (__m512bh)_mm512_set1_epi32((int)*p); }
AVX512BF16 static inline __m512bh load_bh(const void *p) { return (__m512bh)_mm512_loadu_si512(p); }

// 2^x for x <= 0: x = n + f with n = round(x), f in [-1/2, 1/2], 2^f by a degree-3 polynomial
// (fitted for relative error on [-1/2, 1/2]: max relative error 7.5e-5 = 2^-13.7 in fp32,
// against bf16's rounding of P of up to 2^-9), scalef for 2^n: it gives 0 for very negative
// n, so no clamp.
AVX512BF16 static inline __m512 exp2_bf16(__m512 x) {
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.055171434f), f, _mm512_set1_ps(0.24261081f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.69326097f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.99992812f));
    return _mm512_scalef_ps(p, n);
}

// a and b rounded to bf16 and interleaved: lane i holds the pair (a[i], b[i]).
// vcvtne2ps2bf16 puts b's 16 values after a's; one word permute interleaves them.
AVX512BF16 static inline __m512bh interleave_bf16(__m512 a, __m512 b) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return (__m512bh)_mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(b, a));
}

AVX512BF16 void avx512bf16_attention_head8_forward(int L, float scale, const float *q, const float *k,
                                                   const float *v, ptrdiff_t ld, float *o, ptrdiff_t ldo,
                                                   float *lse, float *scratch) {
    scratch = align64(scratch);
    uint32_t *qT = (uint32_t *)scratch; // [4][L]: channel pair c2 of every query
    uint32_t *kp = qT + 4 * L;          // [L][4]: key j's channel pairs
    uint32_t *vp = kp + 4 * L;          // [L/2][8]: (v[j][c], v[j+1][c]) for even j
    float *s = (float *)(vp + 4 * L);   // [L][16]: raw q.k of one query block, key-major
    for (int i = 0; i < L; i++)
        for (int c2 = 0; c2 < 4; c2++) {
            qT[c2 * L + i] = bf16_pair(q[i * ld + 2 * c2], q[i * ld + 2 * c2 + 1]);
            kp[i * 4 + c2] = bf16_pair(k[i * ld + 2 * c2], k[i * ld + 2 * c2 + 1]);
        }
    for (int j = 0; j < L; j += 2)
        for (int c = 0; c < 8; c++) vp[j * 4 + c] = bf16_pair(v[j * ld + c], v[(j + 1) * ld + c]);
    // Scores stay unscaled q.k (the fp32 sum of bf16 products, as autocast's matmul gives);
    // the scale and log2(e) go into the exponent's one FMA.
    const float c = scale * 1.44269504f;
    for (int i0 = 0; i0 < L; i0 += 16) {
        __m512bh qc[4];
        for (int c2 = 0; c2 < 4; c2++) qc[c2] = load_bh(qT + c2 * L + i0);
        __m512 m = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < L; j++) {
            const uint32_t *kj = kp + j * 4;
            __m512 a = _mm512_dpbf16_ps(_mm512_setzero_ps(), qc[0], pair_bcast(kj));
            __m512 b = _mm512_dpbf16_ps(_mm512_setzero_ps(), qc[1], pair_bcast(kj + 1));
            a = _mm512_dpbf16_ps(a, qc[2], pair_bcast(kj + 2));
            b = _mm512_dpbf16_ps(b, qc[3], pair_bcast(kj + 3));
            __m512 sj = _mm512_add_ps(a, b);
            _mm512_storeu_ps(s + j * 16, sj);
            m = _mm512_max_ps(m, sj);
        }
        __m512 mc = _mm512_mul_ps(m, _mm512_set1_ps(c)), cv = _mm512_set1_ps(c);
        __m512 acc[8], t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();
        for (int ch = 0; ch < 8; ch++) acc[ch] = _mm512_setzero_ps();
        for (int j = 0; j < L; j += 2) {
            __m512 p0 = exp2_bf16(_mm512_fmsub_ps(_mm512_loadu_ps(s + j * 16), cv, mc));
            __m512 p1 = exp2_bf16(_mm512_fmsub_ps(_mm512_loadu_ps(s + j * 16 + 16), cv, mc));
            // The sum in fp32 from P before rounding (lse and the division stay fp32).
            t0 = _mm512_add_ps(t0, p0);
            t1 = _mm512_add_ps(t1, p1);
            __m512bh pp = interleave_bf16(p0, p1);
            const uint32_t *vj = vp + j * 4;
            for (int ch = 0; ch < 8; ch++) acc[ch] = _mm512_dpbf16_ps(acc[ch], pp, pair_bcast(vj + ch));
        }
        __m512 total = _mm512_add_ps(t0, t1);
        __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), total);
        float out[8][16], mx[16], tot[16];
        for (int ch = 0; ch < 8; ch++) _mm512_storeu_ps(out[ch], _mm512_mul_ps(acc[ch], inv));
        _mm512_storeu_ps(mx, m);
        _mm512_storeu_ps(tot, total);
        for (int r = 0; r < 16; r++) {
            float *orow = o + (i0 + r) * ldo;
            for (int ch = 0; ch < 8; ch++) orow[ch] = out[ch][r];
            // total = sum of e^(scale (s - m)), so lse = scale m + ln(total).
            lse[i0 + r] = mx[r] * scale + logf(tot[r]);
        }
    }
}

// The backward's scratch per block of 16 keys, 384 floats: K and V as channel pairs [4][16]
// (32-bit lanes of bf16 pairs) at 0 and 64, the fp32 dV and dK accumulators [8][16] at 128 and
// 256, interleaved per block for the fp32 kernel's reason (loads never 4 KB apart from a
// pending store). After the blocks: K by channel in key order [L32 / 32][8][32] bf16 for
// dQ, then dS of the pass's eight rows [8][L32] bf16 (L32 = L rounded up to 32, zero padded).
enum { BLOCK = 384 };

AVX512BF16 void avx512bf16_attention_head8_backward(int L, float scale, const float *q, const float *k,
                                                    const float *v, ptrdiff_t ld, const float *o,
                                                    const float *dout, ptrdiff_t ldo, const float *lse, float *dq,
                                                    float *dk, float *dv, ptrdiff_t ldd, float *scratch) {
    scratch = align64(scratch);
    const int L32 = (L + 31) & ~31;
    uint16_t *kq = (uint16_t *)(scratch + (L / 16) * BLOCK);
    uint16_t *dsb = kq + 8 * L32;
    for (int j = 0; j < L; j++) {
        uint32_t *kb = (uint32_t *)(scratch + (j / 16) * BLOCK) + j % 16;
        float *acc = scratch + (j / 16) * BLOCK + 128 + j % 16;
        for (int c2 = 0; c2 < 4; c2++) {
            kb[c2 * 16] = bf16_pair(k[j * ld + 2 * c2], k[j * ld + 2 * c2 + 1]);
            kb[64 + c2 * 16] = bf16_pair(v[j * ld + 2 * c2], v[j * ld + 2 * c2 + 1]);
        }
        for (int c = 0; c < 8; c++) {
            acc[c * 16] = 0;
            acc[128 + c * 16] = 0;
            kq[(j / 32) * 256 + c * 32 + j % 32] = (uint16_t)bf16_bits(k[j * ld + c]);
        }
    }
    for (int j = L; j < L32; j++) {
        for (int c = 0; c < 8; c++) kq[(j / 32) * 256 + c * 32 + j % 32] = 0;
        for (int r = 0; r < 8; r++) dsb[r * L32 + j] = 0;
    }
    const float c = scale * 1.44269504f;
    const __m512 cv = _mm512_set1_ps(c);
    for (int i = 0; i < L; i += 8) {
        // Row pairs of this pass: q and dO rows as channel pairs (scores, dP), and channel c of
        // rows 2rp, 2rp + 1 as pairs (dK, dV).
        uint32_t qr[8][4], dr[8][4], qpair[4][8], dpair[4][8];
        float D[8], l2[8];
        for (int r = 0; r < 8; r++) {
            const float *qi = q + (i + r) * ld, *di = dout + (i + r) * ldo, *oi = o + (i + r) * ldo;
            float sum = 0;
            for (int ch = 0; ch < 8; ch++) sum += bf16_round(di[ch]) * bf16_round(oi[ch]);
            D[r] = sum;
            l2[r] = lse[i + r] * 1.44269504f;
            for (int c2 = 0; c2 < 4; c2++) {
                qr[r][c2] = bf16_pair(qi[2 * c2], qi[2 * c2 + 1]);
                dr[r][c2] = bf16_pair(di[2 * c2], di[2 * c2 + 1]);
            }
        }
        for (int rp = 0; rp < 4; rp++)
            for (int ch = 0; ch < 8; ch++) {
                int r = i + 2 * rp;
                qpair[rp][ch] = bf16_pair(q[r * ld + ch], q[(r + 1) * ld + ch]);
                dpair[rp][ch] = bf16_pair(dout[r * ldo + ch], dout[(r + 1) * ldo + ch]);
            }
        for (int j0 = 0; j0 < L; j0 += 16) {
            const uint32_t *kb = (const uint32_t *)(scratch + (j0 / 16) * BLOCK), *vb = kb + 64;
            float *dvb = scratch + (j0 / 16) * BLOCK + 128, *dkb = dvb + 128;
            __m512bh Pp[4], Sp[4];
            for (int rp = 0; rp < 4; rp++) {
                __m512 P[2], ds[2];
                for (int h = 0; h < 2; h++) {
                    int r = 2 * rp + h;
                    __m512 s0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(kb), pair_bcast(&qr[r][0]));
                    __m512 s1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(kb + 16), pair_bcast(&qr[r][1]));
                    __m512 d0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(vb), pair_bcast(&dr[r][0]));
                    __m512 d1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(vb + 16), pair_bcast(&dr[r][1]));
                    s0 = _mm512_dpbf16_ps(s0, load_bh(kb + 32), pair_bcast(&qr[r][2]));
                    s1 = _mm512_dpbf16_ps(s1, load_bh(kb + 48), pair_bcast(&qr[r][3]));
                    d0 = _mm512_dpbf16_ps(d0, load_bh(vb + 32), pair_bcast(&dr[r][2]));
                    d1 = _mm512_dpbf16_ps(d1, load_bh(vb + 48), pair_bcast(&dr[r][3]));
                    P[h] = exp2_bf16(_mm512_fmsub_ps(_mm512_add_ps(s0, s1), cv, _mm512_set1_ps(l2[r])));
                    ds[h] = _mm512_mul_ps(P[h], _mm512_sub_ps(_mm512_add_ps(d0, d1), _mm512_set1_ps(D[r])));
                }
                Pp[rp] = interleave_bf16(P[0], P[1]);
                // dS in bf16 once: row 2rp's 16 values, then row 2rp + 1's, kept for dQ and
                // interleaved for dK.
                __m512i dsw = (__m512i)_mm512_cvtne2ps_pbh(ds[1], ds[0]);
                _mm256_storeu_si256((__m256i *)(dsb + 2 * rp * L32 + j0), _mm512_castsi512_si256(dsw));
                _mm256_storeu_si256((__m256i *)(dsb + (2 * rp + 1) * L32 + j0), _mm512_extracti64x4_epi64(dsw, 1));
                Sp[rp] = interleave_bf16(ds[0], ds[1]);
            }
            for (int ch = 0; ch < 8; ch++) {
                __m512 av = _mm512_load_ps(dvb + ch * 16), ak = _mm512_load_ps(dkb + ch * 16);
                for (int rp = 0; rp < 4; rp++) {
                    av = _mm512_dpbf16_ps(av, Pp[rp], pair_bcast(&dpair[rp][ch]));
                    ak = _mm512_dpbf16_ps(ak, Sp[rp], pair_bcast(&qpair[rp][ch]));
                }
                _mm512_store_ps(dvb + ch * 16, av);
                _mm512_store_ps(dkb + ch * 16, ak);
            }
        }
        // dQ = dS K scale: lane l sums keys 2l, 2l + 1 of each 32.
        for (int r = 0; r < 8; r++) {
            __m512 g[8];
            for (int ch = 0; ch < 8; ch++) g[ch] = _mm512_setzero_ps();
            for (int j0 = 0; j0 < L32; j0 += 32) {
                __m512bh d = load_bh(dsb + r * L32 + j0);
                const uint16_t *kc = kq + (j0 / 32) * 256;
                for (int ch = 0; ch < 8; ch++) g[ch] = _mm512_dpbf16_ps(g[ch], d, load_bh(kc + ch * 32));
            }
            float sum[8];
            reduce8(g, sum);
            float *dqr = dq + (i + r) * ldd;
            for (int ch = 0; ch < 8; ch++) dqr[ch] = sum[ch] * scale;
        }
    }
    for (int j = 0; j < L; j++) {
        const float *acc = scratch + (j / 16) * BLOCK + 128 + j % 16;
        for (int ch = 0; ch < 8; ch++) {
            dv[j * ldd + ch] = acc[ch * 16];
            dk[j * ldd + ch] = acc[128 + ch * 16] * scale;
        }
    }
}
