// GroupNorm's per-image loops (Sources/Kernels/GroupNormKernel.swift) in 16-lane vectors, for
// C % 16 == 0. x, y, dy, dz, addend: `pixels` rows of C floats. The SiLU fused into the norm
// uses vector_math.h's sigmoid (vrcp14ps and a Newton step instead of a divide).
#include "avx512_kernels.h"
#include "vector_math.h"

AVX512 void avx512_groupnorm_moments(const float *x, ptrdiff_t pixels, ptrdiff_t C, const float *shift,
                                     float *sum, float *sumSquares) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 m = _mm512_loadu_ps(shift + c);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, q0 = a0, q1 = a0;
        const float *p = x + c;
        ptrdiff_t i = 0;
        for (; i + 2 <= pixels; i += 2, p += 2 * C) {
            __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(p), m), d1 = _mm512_sub_ps(_mm512_loadu_ps(p + C), m);
            a0 = _mm512_add_ps(a0, d0); a1 = _mm512_add_ps(a1, d1);
            q0 = _mm512_fmadd_ps(d0, d0, q0); q1 = _mm512_fmadd_ps(d1, d1, q1);
        }
        if (i < pixels) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(p), m);
            a0 = _mm512_add_ps(a0, d); q0 = _mm512_fmadd_ps(d, d, q0);
        }
        _mm512_storeu_ps(sum + c, _mm512_add_ps(a0, a1));
        _mm512_storeu_ps(sumSquares + c, _mm512_add_ps(q0, q1));
    }
}

AVX512 void avx512_groupnorm_affine(const float *x, float *y, ptrdiff_t pixels, ptrdiff_t C, const float *scale,
                                    const float *shift, int silu) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 s = _mm512_loadu_ps(scale + c), t = _mm512_loadu_ps(shift + c);
        const float *xp = x + c;
        float *yp = y + c;
        if (silu) {
            for (ptrdiff_t i = 0; i < pixels; i++, xp += C, yp += C) {
                __m512 z = _mm512_fmadd_ps(_mm512_loadu_ps(xp), s, t);
                _mm512_storeu_ps(yp, _mm512_mul_ps(z, sigmoid(z)));
            }
        } else {
            for (ptrdiff_t i = 0; i < pixels; i++, xp += C, yp += C)
                _mm512_storeu_ps(yp, _mm512_fmadd_ps(_mm512_loadu_ps(xp), s, t));
        }
    }
}

// xhat for 16 channels at `off`: the recorded bf16 xhat when there is one, else (x - m) r.
AVX512 static inline __m512 xhat_at(const float *x, const uint16_t *xhat, ptrdiff_t off, __m512 m, __m512 r) {
    return xhat ? load_bf16(xhat + off) : _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + off), m), r);
}

// backward sums from fp32 x with mean and rstd per channel, or from a recorded bf16 xhat
// (x, mean and rstd unused).
AVX512 static inline void backward_sums(const float *x, const uint16_t *xhat, const float *dy, float *dz,
                                        ptrdiff_t pixels, ptrdiff_t C, const float *mean, const float *rstd,
                                        const float *gamma, const float *beta, int silu, float *sumDz,
                                        float *sumDzXhat) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 m = xhat ? _mm512_setzero_ps() : _mm512_loadu_ps(mean + c);
        const __m512 r = xhat ? _mm512_set1_ps(1.0f) : _mm512_loadu_ps(rstd + c);
        const __m512 ga = _mm512_loadu_ps(gamma + c), be = _mm512_loadu_ps(beta + c), one = _mm512_set1_ps(1.0f);
        __m512 s = _mm512_setzero_ps(), t = s;
        ptrdiff_t off = c;
        for (ptrdiff_t i = 0; i < pixels; i++, off += C) {
            __m512 xh = xhat_at(x, xhat, off, m, r), d = _mm512_loadu_ps(dy + off);
            if (silu) {
                // silu'(z) = sg (1 + z (1 - sg)), z = xhat gamma + beta
                __m512 z = _mm512_fmadd_ps(xh, ga, be), sg = sigmoid(z);
                d = _mm512_mul_ps(_mm512_mul_ps(d, sg), _mm512_fmadd_ps(z, _mm512_sub_ps(one, sg), one));
            }
            _mm512_storeu_ps(dz + off, d);
            s = _mm512_add_ps(s, d);
            t = _mm512_fmadd_ps(d, xh, t);
        }
        _mm512_storeu_ps(sumDz + c, s);
        _mm512_storeu_ps(sumDzXhat + c, t);
    }
}

// dx = a dz + b (x - mean) + d, or a dz + b xhat + d from a recorded bf16 xhat (+ addend), over dz.
AVX512 static inline void input_gradient(const float *x, const uint16_t *xhat, float *dz, ptrdiff_t pixels,
                                         ptrdiff_t C, const float *mean, const float *a, const float *b,
                                         const float *d, const float *addend) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 mv = xhat ? _mm512_setzero_ps() : _mm512_loadu_ps(mean + c), one = _mm512_set1_ps(1.0f);
        const __m512 av = _mm512_loadu_ps(a + c), bv = _mm512_loadu_ps(b + c), dv = _mm512_loadu_ps(d + c);
        ptrdiff_t off = c;
        for (ptrdiff_t i = 0; i < pixels; i++, off += C) {
            __m512 r = _mm512_fmadd_ps(bv, xhat_at(x, xhat, off, mv, one), _mm512_fmadd_ps(av, _mm512_loadu_ps(dz + off), dv));
            if (addend) r = _mm512_add_ps(r, _mm512_loadu_ps(addend + off));
            _mm512_storeu_ps(dz + off, r);
        }
    }
}

AVX512 void avx512_groupnorm_backward_sums(const float *x, const float *dy, float *dz, ptrdiff_t pixels, ptrdiff_t C,
                                           const float *mean, const float *rstd, const float *gamma,
                                           const float *beta, int silu, float *sumDz, float *sumDzXhat) {
    backward_sums(x, NULL, dy, dz, pixels, C, mean, rstd, gamma, beta, silu, sumDz, sumDzXhat);
}

AVX512 void avx512_groupnorm_input_gradient(const float *x, float *dz, ptrdiff_t pixels, ptrdiff_t C,
                                            const float *mean, const float *a, const float *b, const float *d,
                                            const float *addend) {
    input_gradient(x, NULL, dz, pixels, C, mean, a, b, d, addend);
}

// The two passes of backward on a recorded bf16 xhat.
AVX512 void avx512_groupnorm_backward_sums_bf16(const uint16_t *xhat, const float *dy, float *dz, ptrdiff_t pixels,
                                                ptrdiff_t C, const float *gamma, const float *beta, int silu,
                                                float *sumDz, float *sumDzXhat) {
    backward_sums(NULL, xhat, dy, dz, pixels, C, NULL, NULL, gamma, beta, silu, sumDz, sumDzXhat);
}

AVX512 void avx512_groupnorm_input_gradient_bf16(const uint16_t *xhat, float *dz, ptrdiff_t pixels, ptrdiff_t C,
                                                 const float *a, const float *b, const float *d, const float *addend) {
    input_gradient(NULL, xhat, dz, pixels, C, NULL, a, b, d, addend);
}
