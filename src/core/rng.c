/* Philox 4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw: "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011). Counter = (ctr_lo, ctr_hi) as four 32-bit words,
 * key = seed. The stream id goes in the high counter words so streams never overlap. */
#include "genc/core.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void genc_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32);
    uint32_t c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

genc_rng genc_rng_make(uint64_t seed, uint64_t stream) {
    genc_rng r = {seed, stream, 0};
    return r;
}

uint32_t genc_rng_u32(genc_rng *r) {
    uint32_t o[4];
    genc_philox4x32(r->seed, r->stream, r->counter++, o);
    return o[0];
}

/* 24 high bits → float in [0,1) exactly representable */
static inline float u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

float genc_rng_uniform(genc_rng *r) { return u01(genc_rng_u32(r)); }

float genc_rng_normal(genc_rng *r) {
    uint32_t o[4];
    genc_philox4x32(r->seed, r->stream, r->counter++, o);
    float u1 = ((float)(o[0] >> 8) + 0.5f) * (1.0f / 16777216.0f); /* (0,1) */
    float u2 = u01(o[1]);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

uint32_t genc_rng_below(genc_rng *r, uint32_t n) {
    if (n <= 1) return 0;
    uint32_t o[4];
    genc_philox4x32(r->seed, r->stream, r->counter++, o);
    uint64_t x = ((uint64_t)o[0] << 32) | o[1];
    return (uint32_t)(x % n); /* bias < n / 2^64: negligible */
}

void genc_rng_fill_uniform(genc_rng *r, float *x, int64_t n) {
    int64_t nb = (n + 3) / 4;
    uint64_t base = r->counter;
#pragma omp parallel for schedule(static) if (nb > 4096)
    for (int64_t b = 0; b < nb; b++) {
        uint32_t o[4];
        genc_philox4x32(r->seed, r->stream, base + (uint64_t)b, o);
        for (int j = 0; j < 4 && b * 4 + j < n; j++) x[b * 4 + j] = u01(o[j]);
    }
    r->counter += (uint64_t)nb;
}

void genc_rng_fill_normal(genc_rng *r, float *x, int64_t n, float mean, float std) {
    /* Box-Muller: each block of four words gives two pairs → four normals. */
    int64_t nb = (n + 3) / 4;
    uint64_t base = r->counter;
#pragma omp parallel for schedule(static) if (nb > 4096)
    for (int64_t b = 0; b < nb; b++) {
        uint32_t o[4];
        genc_philox4x32(r->seed, r->stream, base + (uint64_t)b, o);
        float z[4];
        for (int p = 0; p < 2; p++) {
            float u1 = ((float)(o[2 * p] >> 8) + 0.5f) * (1.0f / 16777216.0f);
            float u2 = u01(o[2 * p + 1]);
            float rad = sqrtf(-2.0f * logf(u1));
            z[2 * p] = rad * cosf(6.28318530717958647692f * u2);
            z[2 * p + 1] = rad * sinf(6.28318530717958647692f * u2);
        }
        for (int j = 0; j < 4 && b * 4 + j < n; j++) x[b * 4 + j] = mean + std * z[j];
    }
    r->counter += (uint64_t)nb;
}
