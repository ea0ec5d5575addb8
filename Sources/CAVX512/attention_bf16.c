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


// Packing: rows of 8 floats (one head's q, k, v, o or dO) go to bf16 four at a time with
// vcvtne2ps2bf16 (round to nearest even, as autocast's casts), then are rearranged with
// permutes for each layout; the kernels' loops only load what these wrote.

// Rows p and p + ld as one vector.
AVX512BF16 static inline __m512 load_rows2(const float *p, ptrdiff_t ld) {
    __m512d lo = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(p)));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm256_loadu_ps(p + ld)), 1));
}

// Four rows in bf16, in order: 32-bit lane 4 r + c2 holds row r's channels 2 c2, 2 c2 + 1.
// Rows that are bf16 already (bf16 = 1: uint16_t rows, `ld` apart) are loaded as they are,
// 16 bytes a row; fp32 ones are rounded.
AVX512BF16 static inline __m512i rows4_bf16(const void *p, ptrdiff_t ld, int bf16) {
    if (bf16) {
        const uint16_t *w = (const uint16_t *)p;
        __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)w));
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(w + ld)), 1);
        z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(w + 2 * ld)), 2);
        return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(w + 3 * ld)), 3);
    }
    const float *f = (const float *)p;
    return (__m512i)_mm512_cvtne2ps_pbh(load_rows2(f + 2 * ld, ld), load_rows2(f, ld));
}

// Row r of a [rows][ld] array of floats (bf16 = 0) or bf16 values (bf16 = 1).
static inline const void *row_at(const void *p, ptrdiff_t r, ptrdiff_t ld, int bf16) {
    return bf16 ? (const void *)((const uint16_t *)p + r * ld) : (const void *)((const float *)p + r * ld);
}

// Word permutes of rows4_bf16's 32 words (word 8 r + c: row r, channel c), as word w's source:
//   row_pairs      lane 8 h + c = (row 2h, row 2h + 1) of channel c: w -> 16 h + 8 e + c with
//                  h = w / 16, c = w % 16 / 2, e = w % 2.
//   row_pairs_dq   lane 2 c + h, the same pairs ordered by channel first: w -> 16 h + 8 e + c
//                  with c = w / 4, h = w / 2 % 2, e = w % 2.
static const uint16_t row_pairs[32] = {0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15,
                                       16, 24, 17, 25, 18, 26, 19, 27, 20, 28, 21, 29, 22, 30, 23, 31};
static const uint16_t row_pairs_dq[32] = {0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27,
                                          4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31};

// Sixteen rows (stride ld) as 4 vectors across rows: out[c2] lane r = row r's channels 2 c2,
// 2 c2 + 1 in bf16. Two-source dword permutes gather two channel pairs of 8 rows (one per
// half), 128-bit shuffles join the halves of rows 0-7 and 8-15.
AVX512BF16 static inline void rows16_by_channel_pair(const void *p, ptrdiff_t ld, int bf16, __m512i out[4]) {
    __m512i z0 = rows4_bf16(p, ld, bf16), z1 = rows4_bf16(row_at(p, 4, ld, bf16), ld, bf16);
    __m512i z2 = rows4_bf16(row_at(p, 8, ld, bf16), ld, bf16), z3 = rows4_bf16(row_at(p, 12, ld, bf16), ld, bf16);
    // Lane o of the 32 in (z0, z1): channel pair o / 8 (+ 2) of row o % 8 is at 4 (o % 8) + o / 8.
    const __m512i lo = _mm512_set_epi32(29, 25, 21, 17, 13, 9, 5, 1, 28, 24, 20, 16, 12, 8, 4, 0);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(2));
    __m512i a = _mm512_permutex2var_epi32(z0, lo, z1), b = _mm512_permutex2var_epi32(z2, lo, z3);
    out[0] = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(1, 0, 1, 0));
    out[1] = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 2, 3, 2));
    a = _mm512_permutex2var_epi32(z0, hi, z1), b = _mm512_permutex2var_epi32(z2, hi, z3);
    out[2] = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(1, 0, 1, 0));
    out[3] = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 2, 3, 2));
}

// The inverse for fp32 results: a[c] lane r (channel c of row r) to 16 rows of 8 at stride ld.
// Pairs of channels interleave, then pairs of pairs, leaving row 4q + p's channels 0-3 (4-7)
// in 128-bit lane q of lo[p] (hi[p]).
AVX512BF16 static inline void store_rows16(const __m512 a[8], float *out, ptrdiff_t ld) {
    __m512 t[8], lo[4], hi[4];
    for (int c = 0; c < 8; c += 2) {
        t[c] = _mm512_unpacklo_ps(a[c], a[c + 1]);     // lane q: rows 4q, 4q+1 of channels c, c+1
        t[c + 1] = _mm512_unpackhi_ps(a[c], a[c + 1]); //         rows 4q+2, 4q+3
    }
    for (int h = 0; h < 2; h++) {
        __m512d x = _mm512_castps_pd(t[4 * h]), y = _mm512_castps_pd(t[4 * h + 2]);
        __m512d xh = _mm512_castps_pd(t[4 * h + 1]), yh = _mm512_castps_pd(t[4 * h + 3]);
        __m512 *dst = h ? hi : lo;
        dst[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
        dst[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
        dst[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(xh, yh));
        dst[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(xh, yh));
    }
#define STORE_LANE(q)                                                                        \
    for (int p = 0; p < 4; p++) {                                                            \
        _mm_storeu_ps(out + (4 * (q) + p) * ld, _mm512_extractf32x4_ps(lo[p], q));           \
        _mm_storeu_ps(out + (4 * (q) + p) * ld + 4, _mm512_extractf32x4_ps(hi[p], q));       \
    }
    STORE_LANE(0) STORE_LANE(1) STORE_LANE(2) STORE_LANE(3)
#undef STORE_LANE
}

// store_rows16 into bf16 rows (8 values, 16 bytes each), rounded as vcvtne2ps2bf16 rounds
// where a head is packed, so a kernel reading them back sees the values it would have made.
AVX512BF16 static inline void store_rows16_bf16(const __m512 a[8], uint16_t *out, ptrdiff_t ld) {
    float rows[16 * 8];
    store_rows16(a, rows, 8);
    for (int r = 0; r < 16; r += 2) {
        __m256i w = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(rows + 8 * r));
        _mm_storeu_si128((__m128i *)(out + r * ld), _mm256_castsi256_si128(w));
        _mm_storeu_si128((__m128i *)(out + (r + 1) * ld), _mm256_extracti128_si256(w, 1));
    }
}

// ln x for x >= 1 (the softmax sums, whose largest term is 1): x = 2^e m with m in
// [0.75, 1.5), ln m = 2 atanh(t) with t = (m - 1) / (m + 1), |t| <= 0.2, to t^9 (the next term
// is below 2e-8).
AVX512BF16 static inline __m512 log_sum(__m512 x) {
    __m512 e = _mm512_getexp_ps(x), m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    // getmant in [0.75, 1.5) with getexp's exponent: correct it where m < 1 halved the exponent.
    e = _mm512_mask_add_ps(e, _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.0f), _CMP_LT_OQ), e, _mm512_set1_ps(1.0f));
    __m512 t = _mm512_div_ps(_mm512_sub_ps(m, _mm512_set1_ps(1.0f)), _mm512_add_ps(m, _mm512_set1_ps(1.0f)));
    __m512 t2 = _mm512_mul_ps(t, t);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(2.0f / 9), t2, _mm512_set1_ps(2.0f / 7));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 5));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f / 3));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(2.0f));
    return _mm512_fmadd_ps(e, _mm512_set1_ps(0.69314718f), _mm512_mul_ps(p, t));
}

AVX512BF16 void avx512bf16_attention_head8_forward(int L, float scale, const void *q, const void *k,
                                                   const void *v, ptrdiff_t ld, void *o, ptrdiff_t ldo,
                                                   float *lse, float *scratch, int bf16_io) {
    scratch = align64(scratch);
    uint32_t *kp = (uint32_t *)scratch; // [L][4]: key j's channel pairs
    uint32_t *vp = kp + 4 * L;          // [L/2][8]: (v[j][c], v[j+1][c]) for even j
    float *s = (float *)(vp + 4 * L);   // [L][16]: raw q.k of one query block, key-major
    const __m512i pairs = _mm512_loadu_si512(row_pairs);
    for (int j = 0; j < L; j += 4) {
        _mm512_storeu_si512(kp + 4 * j, rows4_bf16(row_at(k, j, ld, bf16_io), ld, bf16_io));
        _mm512_storeu_si512(vp + 4 * j, _mm512_permutexvar_epi16(pairs, rows4_bf16(row_at(v, j, ld, bf16_io), ld, bf16_io)));
    }
    // Scores stay unscaled q.k (the fp32 sum of bf16 products, as autocast's matmul gives);
    // the scale and log2(e) go into the exponent's one FMA.
    const float c = scale * 1.44269504f;
    for (int i0 = 0; i0 < L; i0 += 16) {
        __m512i qi[4];
        rows16_by_channel_pair(row_at(q, i0, ld, bf16_io), ld, bf16_io, qi);
        __m512bh qc[4] = {(__m512bh)qi[0], (__m512bh)qi[1], (__m512bh)qi[2], (__m512bh)qi[3]};
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
        for (int ch = 0; ch < 8; ch++) acc[ch] = _mm512_mul_ps(acc[ch], inv);
        if (bf16_io)
            store_rows16_bf16(acc, (uint16_t *)o + i0 * ldo, ldo);
        else
            store_rows16(acc, (float *)o + i0 * ldo, ldo);
        // total = sum of e^(scale (s - m)), so lse = scale m + ln(total).
        _mm512_storeu_ps(lse + i0, _mm512_fmadd_ps(m, _mm512_set1_ps(scale), log_sum(total)));
    }
}

// The backward's scratch per block of 16 keys, 384 floats: K and V by channel pair [4][16]
// (lanes across keys) at 0 and 64, the fp32 dV and dK accumulators [8][16] at 128 and 256,
// interleaved per block for the fp32 kernel's reason (loads never 4 KB apart from a pending
// store). After the blocks: K for dQ, [L/4][16] lanes 2c + h = (k[j+2h][c], k[j+2h+1][c]),
// then dS of the pass's eight rows [8][L] bf16.
enum { BLOCK = 384 };

AVX512BF16 void avx512bf16_attention_head8_backward(int L, float scale, const void *q, const void *k,
                                                    const void *v, ptrdiff_t ld, const void *o,
                                                    const float *dout, ptrdiff_t ldo, const float *lse, float *dq,
                                                    float *dk, float *dv, ptrdiff_t ldd, float *scratch, int bf16_io) {
    scratch = align64(scratch);
    uint32_t *kq = (uint32_t *)(scratch + (L / 16) * BLOCK);
    uint16_t *dsb = (uint16_t *)(kq + 4 * L);
    const __m512i pairs = _mm512_loadu_si512(row_pairs), pairs_dq = _mm512_loadu_si512(row_pairs_dq);
    for (int j0 = 0; j0 < L; j0 += 16) {
        float *blk = scratch + (j0 / 16) * BLOCK;
        __m512i t[4];
        rows16_by_channel_pair(row_at(k, j0, ld, bf16_io), ld, bf16_io, t);
        for (int c2 = 0; c2 < 4; c2++) _mm512_store_si512(blk + 16 * c2, t[c2]);
        rows16_by_channel_pair(row_at(v, j0, ld, bf16_io), ld, bf16_io, t);
        for (int c2 = 0; c2 < 4; c2++) _mm512_store_si512(blk + 64 + 16 * c2, t[c2]);
        for (int a = 0; a < 16; a++) _mm512_store_ps(blk + 128 + 16 * a, _mm512_setzero_ps());
        for (int j = j0; j < j0 + 16; j += 4)
            _mm512_storeu_si512(kq + 4 * j, _mm512_permutexvar_epi16(pairs_dq, rows4_bf16(row_at(k, j, ld, bf16_io), ld, bf16_io)));
    }
    const float c = scale * 1.44269504f;
    const __m512 cv = _mm512_set1_ps(c);
    for (int i = 0; i < L; i += 8) {
        // This pass's eight rows: q and dO by channel pair ([8][4], for the scores and dP),
        // and channel c of rows 2rp, 2rp + 1 as pairs ([4][8], for dK and dV).
        uint32_t qr[32], dr[32], qpair[32], dpair[32];
        float D[8], l2[8];
        __m512 prod[4];
        for (int h = 0; h < 2; h++) {
            __m512i qw = rows4_bf16(row_at(q, i + 4 * h, ld, bf16_io), ld, bf16_io);
            __m512i dw = rows4_bf16(dout + (i + 4 * h) * ldo, ldo, 0);
            __m512i ow = rows4_bf16(row_at(o, i + 4 * h, ldo, bf16_io), ldo, bf16_io);
            _mm512_storeu_si512(qr + 16 * h, qw);
            _mm512_storeu_si512(dr + 16 * h, dw);
            _mm512_storeu_si512(qpair + 16 * h, _mm512_permutexvar_epi16(pairs, qw));
            _mm512_storeu_si512(dpair + 16 * h, _mm512_permutexvar_epi16(pairs, dw));
            // D = dO . o from their bf16 values, in fp32: products of rows 2m, 2m + 1 per vector.
            prod[2 * h] = _mm512_mul_ps(_mm512_cvtpbh_ps((__m256bh)_mm512_castsi512_si256(dw)),
                                        _mm512_cvtpbh_ps((__m256bh)_mm512_castsi512_si256(ow)));
            prod[2 * h + 1] = _mm512_mul_ps(_mm512_cvtpbh_ps((__m256bh)_mm512_extracti64x4_epi64(dw, 1)),
                                            _mm512_cvtpbh_ps((__m256bh)_mm512_extracti64x4_epi64(ow, 1)));
        }
        __m512 rowsD[8];
        for (int r = 0; r < 8; r++) rowsD[r] = _mm512_maskz_mov_ps(r % 2 ? 0xff00 : 0x00ff, prod[r / 2]);
        reduce8(rowsD, D);
        for (int r = 0; r < 8; r++) l2[r] = lse[i + r] * 1.44269504f;
        for (int j0 = 0; j0 < L; j0 += 16) {
            const uint32_t *kb = (const uint32_t *)(scratch + (j0 / 16) * BLOCK), *vb = kb + 64;
            float *dvb = scratch + (j0 / 16) * BLOCK + 128, *dkb = dvb + 128;
            __m512bh Pp[4], Sp[4];
            for (int rp = 0; rp < 4; rp++) {
                __m512 P[2], ds[2];
                for (int h = 0; h < 2; h++) {
                    const uint32_t *qrow = qr + 4 * (2 * rp + h), *drow = dr + 4 * (2 * rp + h);
                    __m512 s0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(kb), pair_bcast(qrow));
                    __m512 s1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(kb + 16), pair_bcast(qrow + 1));
                    __m512 d0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(vb), pair_bcast(drow));
                    __m512 d1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), load_bh(vb + 16), pair_bcast(drow + 1));
                    s0 = _mm512_dpbf16_ps(s0, load_bh(kb + 32), pair_bcast(qrow + 2));
                    s1 = _mm512_dpbf16_ps(s1, load_bh(kb + 48), pair_bcast(qrow + 3));
                    d0 = _mm512_dpbf16_ps(d0, load_bh(vb + 32), pair_bcast(drow + 2));
                    d1 = _mm512_dpbf16_ps(d1, load_bh(vb + 48), pair_bcast(drow + 3));
                    int r = 2 * rp + h;
                    P[h] = exp2_bf16(_mm512_fmsub_ps(_mm512_add_ps(s0, s1), cv, _mm512_set1_ps(l2[r])));
                    ds[h] = _mm512_mul_ps(P[h], _mm512_sub_ps(_mm512_add_ps(d0, d1), _mm512_set1_ps(D[r])));
                }
                Pp[rp] = interleave_bf16(P[0], P[1]);
                // dS in bf16 once: row 2rp's 16 values, then row 2rp + 1's, kept for dQ and
                // interleaved for dK.
                __m512i dsw = (__m512i)_mm512_cvtne2ps_pbh(ds[1], ds[0]);
                _mm256_storeu_si256((__m256i *)(dsb + 2 * rp * L + j0), _mm512_castsi512_si256(dsw));
                _mm256_storeu_si256((__m256i *)(dsb + (2 * rp + 1) * L + j0), _mm512_extracti64x4_epi64(dsw, 1));
                Sp[rp] = (__m512bh)_mm512_permutexvar_epi16(
                    _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                     23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0), dsw);
            }
            for (int ch = 0; ch < 8; ch++) {
                __m512 av = _mm512_load_ps(dvb + ch * 16), ak = _mm512_load_ps(dkb + ch * 16);
                for (int rp = 0; rp < 4; rp++) {
                    av = _mm512_dpbf16_ps(av, Pp[rp], pair_bcast(dpair + 8 * rp + ch));
                    ak = _mm512_dpbf16_ps(ak, Sp[rp], pair_bcast(qpair + 8 * rp + ch));
                }
                _mm512_store_ps(dvb + ch * 16, av);
                _mm512_store_ps(dkb + ch * 16, ak);
            }
        }
        // dQ = dS K scale, four keys a step for the eight rows: lane 2c + h sums keys j + 2h,
        // j + 2h + 1 of channel c, against row r's dS of keys j..j+3 broadcast as 64 bits.
        __m512 g[8];
        for (int r = 0; r < 8; r++) g[r] = _mm512_setzero_ps();
        for (int j = 0; j < L; j += 4) {
            __m512bh kk = load_bh(kq + 4 * j);
            for (int r = 0; r < 8; r++) {
                long long d4;
                memcpy(&d4, dsb + r * L + j, 8);
                g[r] = _mm512_dpbf16_ps(g[r], (__m512bh)_mm512_set1_epi64(d4), kk);
            }
        }
        for (int r = 0; r < 8; r++) {
            __m512 sum = _mm512_add_ps(g[r], _mm512_shuffle_ps(g[r], g[r], 0xb1)); // lane 2c: channel c
            __m512 even = _mm512_maskz_compress_ps(0x5555, sum);
            _mm256_storeu_ps(dq + (i + r) * ldd, _mm512_castps512_ps256(_mm512_mul_ps(even, _mm512_set1_ps(scale))));
        }
    }
    for (int j0 = 0; j0 < L; j0 += 16) {
        const float *acc = scratch + (j0 / 16) * BLOCK + 128;
        __m512 a[8];
        for (int ch = 0; ch < 8; ch++) a[ch] = _mm512_load_ps(acc + ch * 16);
        store_rows16(a, dv + j0 * ldd, ldd);
        for (int ch = 0; ch < 8; ch++) a[ch] = _mm512_mul_ps(_mm512_load_ps(acc + 128 + ch * 16), _mm512_set1_ps(scale));
        store_rows16(a, dk + j0 * ldd, ldd);
    }
}
