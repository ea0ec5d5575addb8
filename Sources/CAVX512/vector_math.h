// Vector helpers shared by the AVX-512 kernels: the same exp polynomials as Swift's FastMath
// (Sources/Kernels/FastMath.swift), 16 lanes at a time, so both paths round alike.
#pragma once
#include <immintrin.h>
#include <stdint.h>

#define AVX512 __attribute__((target("avx512f,fma")))

// Range reduction for e^x: n = round(x / ln2) and t = 1.5 * 2^23 + n (n in t's low mantissa
// bits, for `times_2_to_n`); returns n as a float.
AVX512 static inline __m512 round_x_over_ln2(__m512 x, __m512 *t) {
    const __m512 magic = _mm512_set1_ps(12582912.0f); // 1.5 * 2^23: adding it rounds to integer
    *t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.4426950f), magic);
    return _mm512_sub_ps(*t, magic);
}

// p * 2^n with n from `round_x_over_ln2`: t shifted left by 23 puts n in the exponent field
// (the rest shifts out), and an integer add scales p without a multiply.
AVX512 static inline __m512 times_2_to_n(__m512 p, __m512 t) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), _mm512_slli_epi32(_mm512_castps_si512(t), 23)));
}

// e^x for x <= 0: FastMath.expNonPositive lane for lane (x = n ln2 + r, degree-5 polynomial
// in r; clamped at -87 where e^x ~ 1e-38 stands for 0).
AVX512 static inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 t, n = round_x_over_ln2(x, &t);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.69314718f), x);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.008297655f), r, _mm512_set1_ps(0.041915383f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.16667575f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.49998894f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.9999997f));
    return times_2_to_n(_mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0000001f)), t);
}

// e^x: FastMath.exp lane for lane (clamped to [-87, 88.37], ln2 in two parts, degree 6).
AVX512 static inline __m512 exp_clamped(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.37f));
    __m512 t, n = round_x_over_ln2(x, &t);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(1.9046542e-9f), _mm512_fmadd_ps(n, _mm512_set1_ps(-0.69314718f), x));
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(0.0013836846f), r, _mm512_set1_ps(0.008374816f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.041668225f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.1666642f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.4999999f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return times_2_to_n(_mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f)), t);
}

// 1 / (1 + e^-x). The reciprocal is vrcp14ps refined by one Newton step (relative error
// about 1e-7, float rounding): a 16-lane divide costs as much per lane as an 8-lane one on
// the CPUs measured, and dominated SiLU.
AVX512 static inline __m512 sigmoid(__m512 x) {
    __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_clamped(_mm512_sub_ps(_mm512_setzero_ps(), x)));
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

// 16 floats rounded to bfloat16, nearest with ties to even (BFloat16.round in Swift, lane for
// lane): add 0x7FFF plus the lowest kept bit, keep the upper half. NaNs are kept NaN (quiet).
AVX512 static inline __m256i round_to_bf16(__m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    rounded = _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(rounded);
}

// 16 bfloat16 values widened to floats (exact: the upper halves of their bit patterns).
AVX512 static inline __m512 widen_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AVX512 static inline __m512 load_bf16(const uint16_t *p) { return widen_bf16(_mm256_loadu_si256((const __m256i *)p)); }

// Sum of each of 8 vectors' 16 lanes, as 8 floats.
AVX512 static inline void reduce8(const __m512 g[8], float out[8]) {
    // Halve the width three times, pairing vectors so each step does useful adds.
    __m256 h[8];
    for (int c = 0; c < 8; c++)
        h[c] = _mm256_add_ps(_mm512_castps512_ps256(g[c]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g[c]), 1)));
    // h[c] lanes 0..7 sum to channel c; transpose-add 8 x 8.
    __m256 a0 = _mm256_hadd_ps(h[0], h[1]), a1 = _mm256_hadd_ps(h[2], h[3]);
    __m256 a2 = _mm256_hadd_ps(h[4], h[5]), a3 = _mm256_hadd_ps(h[6], h[7]);
    __m256 b0 = _mm256_hadd_ps(a0, a1), b1 = _mm256_hadd_ps(a2, a3);
    // b0 = [c0 c1 c2 c3 | c0 c1 c2 c3] halves (low 128: lanes 0-3, high: lanes 4-7), same b1.
    __m256 lo = _mm256_permute2f128_ps(b0, b1, 0x20), hi = _mm256_permute2f128_ps(b0, b1, 0x31);
    _mm256_storeu_ps(out, _mm256_add_ps(lo, hi));
}

// Scratch rounded up to a cache line: an unaligned 64-byte load or store always spans two.
static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }
