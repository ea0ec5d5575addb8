// AMX bf16 peak: TDPBF16PS on register tiles. Facts relied on (Intel SDM vol. 1 ch. 18 and
// vol. 2 "CPUID", Linux Documentation/arch/x86/xstate.rst):
// - CPUID.(EAX=7,ECX=0):EDX bit 24 = AMX-TILE, bit 22 = AMX-BF16; CPUID.1:ECX bit 27 = OSXSAVE.
// - XCR0 bit 17 (XTILECFG) and bit 18 (XTILEDATA): the OS manages the tile state.
// - Linux enables tile data per process on request: arch_prctl(ARCH_REQ_XCOMP_PERM, 18);
//   using a tile without it raises SIGILL. arch_prctl(ARCH_GET_XCOMP_SUPP) lists what the
//   kernel supports.
// - The tile configuration is 64 bytes: palette (byte 0), start row (1), bytes per row of
//   tiles 0-15 as 16-bit values at 16..47, rows of tiles 0-15 at 48..63.
#include "peak.h"
#include <cpuid.h>
#include <immintrin.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_GET_XCOMP_SUPP 0x1021
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILECFG 17
#define XFEATURE_XTILEDATA 18

static int cpu_lists_amx_bf16(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;  // no OSXSAVE: no XGETBV
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (d & (1u << 24)) && (d & (1u << 22));
}

static int os_enables_tiles(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const unsigned tiles = (1u << XFEATURE_XTILECFG) | (1u << XFEATURE_XTILEDATA);
    if ((lo & tiles) != tiles) return 0;
    unsigned long supported = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, &supported) != 0) return 0;
    return (supported & (1ul << XFEATURE_XTILEDATA)) != 0;
}

int peak_has_amx_bf16(void) {
    // Decided once (the same answer on every thread: the permission is the whole process's).
    static int answer = -1;
    int known = __atomic_load_n(&answer, __ATOMIC_RELAXED);
    if (known >= 0) return known;
    known = cpu_lists_amx_bf16() && os_enables_tiles()
            && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    __atomic_store_n(&answer, known, __ATOMIC_RELAXED);
    return known;
}

// Eight tiles of 16 rows x 64 bytes: tmm0-3 accumulate 16x16 fp32, tmm4-5 hold A (16 rows of
// 32 bf16), tmm6-7 hold B (16 rows of 16 bf16 pairs).
struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
};
_Static_assert(sizeof(struct tile_config) == 64, "LDTILECFG reads 64 bytes");

__attribute__((target("amx-tile,amx-bf16")))
static double tdpbf16(int64_t iterations) {
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) { config.bytes_per_row[t] = 64; config.rows[t] = 16; }
    _tile_loadconfig(&config);

    uint16_t sources[16 * 32];  // bf16 1/1024 (0x3A80) everywhere: small, no overflow
    for (int i = 0; i < 16 * 32; i++) sources[i] = 0x3A80;
    _tile_loadd(4, sources, 64);
    _tile_loadd(5, sources, 64);
    _tile_loadd(6, sources, 64);
    _tile_loadd(7, sources, 64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    // Four independent chains, each a 16x16x32 product: 16*16*32*2 = 16384 FLOPs.
    for (int64_t it = 0; it < iterations; it++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    float out[16 * 16];
    float sum = 0;
    _tile_stored(0, out, 64); sum += out[0];
    _tile_stored(1, out, 64); sum += out[0];
    _tile_stored(2, out, 64); sum += out[0];
    _tile_stored(3, out, 64); sum += out[0];
    _tile_release();
    // The sum is used, so the loop cannot be removed; it is never negative.
    return (double)iterations * 4 * 16384 + (sum < 0 ? 1 : 0);
}

double peak_amx_bf16(int64_t iterations) { return peak_has_amx_bf16() ? tdpbf16(iterations) : 0; }
