// Register-only multiply-add loops that measure a core's arithmetic peak: no memory
// traffic, enough independent accumulators to hide the instruction latency. Each returns
// the floating-point operations it did (a multiply-add counts 2), or 0 when the CPU lacks
// the instructions. Swift cannot emit VDPBF16PS, hence C with per-function targets.
#pragma once
#include <stdint.h>

/// 256-bit FMA (AVX2 + FMA3).
double peak_fma256(int64_t iterations);
/// 512-bit FMA (AVX-512F).
double peak_fma512(int64_t iterations);
/// 512-bit bf16 dot products into fp32 (AVX512-BF16 VDPBF16PS: 32 products a lane pair).
double peak_dpbf16_512(int64_t iterations);
/// AMX bf16 tiles (TDPBF16PS on 16x16 fp32 accumulators, K = 32: 16384 FLOPs an instruction).
/// Asks Linux for tile permission first; 0 where the CPU, the OS or the permission is missing.
double peak_amx_bf16(int64_t iterations);
/// 1 when the CPU has the instructions of each loop (for AMX: and the OS lets this process
/// use the tiles, asked for on the first call).
int peak_has_fma256(void);
int peak_has_avx512(void);
int peak_has_avx512bf16(void);
int peak_has_amx_bf16(void);
