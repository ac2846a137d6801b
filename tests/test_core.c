/* Core: arena reuse, Philox known-answer values, thread-count independence, tape basics. */
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void test_philox_known_answer(void) {
    /* Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10). */
    uint32_t o[4];
    genc_philox4x32(0, 0, 0, o);
    CHECK(o[0] == 0x6627e8d5u && o[1] == 0xe169c58du && o[2] == 0xbc57ac4cu && o[3] == 0x9b00dbd8u,
          "philox(0,0) = %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    genc_philox4x32(0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull, o);
    CHECK(o[0] == 0x408f276du && o[1] == 0x41c83b0eu && o[2] == 0xa20bc7c6u && o[3] == 0x6d5451fdu,
          "philox(all ones) = %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
    /* pi digits vector: ctr = 243f6a88 85a308d3 13198a2e 03707344, key = a4093822 299f31d0 */
    genc_philox4x32(((uint64_t)0x299f31d0u << 32) | 0xa4093822u,
                    ((uint64_t)0x03707344u << 32) | 0x13198a2eu,
                    ((uint64_t)0x85a308d3u << 32) | 0x243f6a88u, o);
    CHECK(o[0] == 0xd16cfe09u && o[1] == 0x94fdccebu && o[2] == 0x5001e420u && o[3] == 0x24126ea1u,
          "philox(pi) = %08x %08x %08x %08x", o[0], o[1], o[2], o[3]);
}

static void test_rng_threads(void) {
    int n = 100003;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    genc_rng r1 = genc_rng_make(42, 1), r2 = genc_rng_make(42, 1);
    omp_set_num_threads(1);
    genc_rng_fill_normal(&r1, a, n, 0, 1);
    omp_set_num_threads(2);
    genc_rng_fill_normal(&r2, b, n, 0, 1);
    CHECK(memcmp(a, b, n * sizeof(float)) == 0, "normal fill independent of thread count");
    CHECK(r1.counter == r2.counter, "counter advance");
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += a[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (a[i] - m) * (a[i] - m);
    v /= n;
    /* standard errors: mean 1/sqrt(n) = 0.003, var sqrt(2/n) = 0.0045 */
    CHECK(fabs(m) < 0.015 && fabs(v - 1) < 0.025, "normal moments mean %g var %g", m, v);
    genc_rng_fill_uniform(&r1, a, n);
    double mu = 0;
    for (int i = 0; i < n; i++) {
        mu += a[i];
        if (a[i] < 0 || a[i] >= 1) { CHECK(0, "uniform out of range"); break; }
    }
    CHECK(fabs(mu / n - 0.5) < 0.005, "uniform mean %g", mu / n);
    free(a);
    free(b);
}

static void test_arena(void) {
    genc_arena *a = genc_arena_new(1 << 12);
    void *p1 = genc_arena_alloc(a, 100);
    CHECK(((uintptr_t)p1 % 64) == 0, "aligned");
    genc_arena_alloc(a, 10000); /* larger than a block */
    size_t cap = genc_arena_capacity(a);
    genc_arena_reset(a);
    void *q1 = genc_arena_alloc(a, 100);
    genc_arena_alloc(a, 10000);
    CHECK(p1 == q1, "reset reuses memory");
    CHECK(genc_arena_capacity(a) == cap, "no growth on the second pass");
    genc_arena_free(a);
}

int main(void) {
    test_philox_known_answer();
    test_rng_threads();
    test_arena();
    return tu_finish();
}
