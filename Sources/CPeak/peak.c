#include "peak.h"
#include <immintrin.h>

// 12 independent accumulator chains: FMA latency (4 cycles) x 2 pipes needs at least 8.
#define CHAINS 12

int peak_has_fma256(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
int peak_has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
int peak_has_avx512bf16(void) { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16"); }

__attribute__((target("avx2,fma")))
static double fma256(int64_t iterations) {
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int64_t it = 0; it < iterations; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    // The sum is used, so the loop cannot be removed; it is never negative.
    return (double)iterations * CHAINS * 8 * 2 + (out[0] < 0 ? 1 : 0);
}

__attribute__((target("avx512f")))
static double fma512(int64_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i * 1e-3f);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int64_t it = 0; it < iterations; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    return (double)iterations * CHAINS * 16 * 2 + (_mm512_reduce_add_ps(s) < 0 ? 1 : 0);
}

__attribute__((target("avx512f,avx512bf16")))
static double dpbf16(int64_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i * 1e-3f);
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(1e-4f));
    for (int64_t it = 0; it < iterations; it++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    // Each of the 16 lanes adds two products: 4 operations a lane.
    return (double)iterations * CHAINS * 16 * 4 + (_mm512_reduce_add_ps(s) < 0 ? 1 : 0);
}

double peak_fma256(int64_t iterations) { return peak_has_fma256() ? fma256(iterations) : 0; }
double peak_fma512(int64_t iterations) { return peak_has_avx512() ? fma512(iterations) : 0; }
double peak_dpbf16_512(int64_t iterations) { return peak_has_avx512bf16() ? dpbf16(iterations) : 0; }
