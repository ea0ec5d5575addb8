// The kernels that write bfloat16, included twice by bf16_output.c: KERNEL(name) names each
// copy, KERNEL_TARGET is its instruction set and ROUND_BF16 its rounding of 16 floats.
// x, y, xhat: `pixels` rows of C values (C % 16 == 0), as in groupnorm.c.

// y = x scale + shift per channel (then SiLU when silu), rounded, from fp32 x or, when
// xb is not NULL, from bf16 xb: a group norm's output for a bf16 convolution, written once
// instead of in fp32 and then again by oneDNN's conversion; or from a recorded xhat the
// norm's output again (scale gamma, shift beta) or its input (scale 1/rstd, shift mean).
KERNEL_TARGET static void KERNEL(affine_bf16)(const float *x, const uint16_t *xb, uint16_t *y, ptrdiff_t pixels,
                                              ptrdiff_t C, const float *scale, const float *shift, int silu) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 s = _mm512_loadu_ps(scale + c), t = _mm512_loadu_ps(shift + c);
        ptrdiff_t off = c;
        for (ptrdiff_t i = 0; i < pixels; i++, off += C) {
            __m512 z = _mm512_fmadd_ps(xb ? load_bf16(xb + off) : _mm512_loadu_ps(x + off), s, t);
            if (silu) z = _mm512_mul_ps(z, sigmoid(z));
            _mm256_storeu_si256((__m256i *)(y + off), ROUND_BF16(z));
        }
    }
}

// The bf16 norm of a bf16 run: xhat = x scale + shift (scale = rstd, shift = -mean rstd)
// rounded, stored to xhat when it is not NULL (what backward reads); then y = xhat gamma +
// beta (SiLU'd when silu) from the rounded xhat, rounded.
KERNEL_TARGET static void KERNEL(normalize_bf16)(const float *x, uint16_t *xhat, uint16_t *y, ptrdiff_t pixels,
                                                 ptrdiff_t C, const float *scale, const float *shift,
                                                 const float *gamma, const float *beta, int silu) {
    for (ptrdiff_t c = 0; c < C; c += 16) {
        const __m512 s = _mm512_loadu_ps(scale + c), t = _mm512_loadu_ps(shift + c);
        const __m512 ga = _mm512_loadu_ps(gamma + c), be = _mm512_loadu_ps(beta + c);
        ptrdiff_t off = c;
        for (ptrdiff_t i = 0; i < pixels; i++, off += C) {
            __m256i h = ROUND_BF16(_mm512_fmadd_ps(_mm512_loadu_ps(x + off), s, t));
            if (xhat) _mm256_storeu_si256((__m256i *)(xhat + off), h);
            __m512 z = _mm512_fmadd_ps(widen_bf16(h), ga, be);
            if (silu) z = _mm512_mul_ps(z, sigmoid(z));
            _mm256_storeu_si256((__m256i *)(y + off), ROUND_BF16(z));
        }
    }
}

// y[i] = x[i] rounded, i < count.
KERNEL_TARGET static void KERNEL(round_buffer)(const float *x, uint16_t *y, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + 16 <= count; i += 16) _mm256_storeu_si256((__m256i *)(y + i), ROUND_BF16(_mm512_loadu_ps(x + i)));
    if (i < count) {
        // The last 1-15 through a vector's worth of scratch (masked 16-bit stores need AVX512BW).
        float in[16] = {0};
        uint16_t out[16];
        memcpy(in, x + i, (size_t)(count - i) * sizeof(float));
        _mm256_storeu_si256((__m256i *)out, ROUND_BF16(_mm512_loadu_ps(in)));
        memcpy(y + i, out, (size_t)(count - i) * sizeof(uint16_t));
    }
}
