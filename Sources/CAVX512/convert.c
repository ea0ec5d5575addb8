// fp32 to bfloat16 in 16-lane vectors (BFloat16.round in Sources/Kernels, lane for lane).
#include "avx512_kernels.h"
#include "vector_math.h"
#include <string.h>

AVX512 void avx512_round_to_bf16(const float *x, uint16_t *y, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + 16 <= count; i += 16) _mm256_storeu_si256((__m256i *)(y + i), round_to_bf16(_mm512_loadu_ps(x + i)));
    if (i < count) {
        // The last 1-15 through a vector's worth of scratch (masked 16-bit stores need AVX512BW).
        float in[16] = {0};
        uint16_t out[16];
        memcpy(in, x + i, (size_t)(count - i) * sizeof(float));
        _mm256_storeu_si256((__m256i *)out, round_to_bf16(_mm512_loadu_ps(in)));
        memcpy(y + i, out, (size_t)(count - i) * sizeof(uint16_t));
    }
}
