/* Vectorisable float transcendentals for the op kernels (internal to src/ops).
 *
 * glibc's expf/erff/tanhf are scalar calls unless -ffast-math is on, so a loop that calls
 * them never vectorises. These are branch-free inline versions built from +, ×, ÷ and bit
 * tricks that gcc turns into AVX/AVX-512 code inside `#pragma omp simd` loops. Accuracy is a
 * few ulp, well inside the tolerances PyTorch parity needs. */
#ifndef GENC_OPS_FASTMATH_H
#define GENC_OPS_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* GENC_WIDE_SIMD on a function lets the compiler vectorise its loops 512 bits wide on an
 * AVX-512 CPU. gcc and clang default to 256-bit vectors there (to avoid the clock penalty on
 * older Xeons); for the transcendental loops here that are bound by arithmetic, not memory,
 * twice the lanes are worth it: the GELU backward runs about 1.4x faster (measured on a
 * Sapphire Rapids core). Only for elementwise loops: every lane computes the same scalar
 * formula, so the results do not depend on the width (a reduction's lane sums would). */
#if defined(__AVX512F__) && defined(__clang__)
#define GENC_WIDE_SIMD __attribute__((min_vector_width(512)))
#elif defined(__AVX512F__) && defined(__GNUC__)
#define GENC_WIDE_SIMD __attribute__((target("prefer-vector-width=512")))
#else
#define GENC_WIDE_SIMD
#endif

/* e^x. Cephes expf: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so r is exact), e^r by a
 * degree-7 polynomial (max rel. error ~1 ulp), 2^n built in the exponent bits. Returns 0 below
 * −87.3 (where the true value is subnormal, < 1.2e-38) and saturates near FLT_MAX above 88.37;
 * NaN gives NaN. */
static inline float genc_fexp(float x) {
    /* written so that a NaN x clamps to a finite xc: converting a NaN n to int below would be
     * undefined behaviour; the NaN is passed through at the end */
    float xc = x < 88.3762626647949f ? x : 88.3762626647949f;
    xc = xc > -87.3365447505531f ? xc : -87.3365447505531f;
    /* round-to-nearest by the 1.5·2^23 trick: needs no SSE4.1 round instruction */
    const float shifter = 12582912.0f;
    float n = (xc * 1.44269504088896341f + shifter) - shifter;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    /* NaN in, NaN out: p is NaN-free, so carry x's NaN over through the scale's bits (an
     * integer blend: a float compare against itself stops clang's vectoriser) */
    uint32_t ux, uy;
    memcpy(&ux, &x, sizeof ux);
    memcpy(&uy, &y, sizeof uy);
    uy = (ux & 0x7fffffffu) > 0x7f800000u ? ux : uy;
    memcpy(&y, &uy, sizeof y);
    return x < -87.3365447505531f ? 0.0f : y;
}

/* σ(x) = 1 / (1 + e^−x): no cancellation for either sign. */
static inline float genc_fsigmoid(float x) { return 1.0f / (1.0f + genc_fexp(-x)); }

/* tanh x. For |x| ≥ 1/8: 1 − 2/(e^{2|x|} + 1) (rel. error a few ulp); below, where that
 * form cancels, the Taylor series to x⁹ (truncation < 1e-11 relative). */
static inline float genc_ftanh(float x) {
    float a = x < 0 ? -x : x;
    float big = 1.0f - 2.0f / (genc_fexp(2.0f * a) + 1.0f);
    float x2 = a * a;
    float small = a * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835)))));
    float t = a < 0.125f ? small : big;
    return x < 0 ? -t : t;
}

/* Standard normal CDF Φ(x) = ½·erfc(−x/√2). erfc by the Chebyshev fit of Numerical Recipes
 * (erfcc, fractional error < 1.2e-7 everywhere), so Φ keeps its relative accuracy in the
 * left tail instead of computing 1 + erf(x) with cancellation. */
static inline float genc_fnormcdf(float x) {
    float z = (x < 0 ? -x : x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float half_erfc = 0.5f * t * genc_fexp(p - z * z); /* ½·erfc(|x|/√2) = Φ(−|x|) */
    return x < 0 ? half_erfc : 1.0f - half_erfc;
}

/* Standard normal density φ(x) = e^{−x²/2} / √(2π). */
static inline float genc_fnormpdf(float x) {
    return 0.39894228040143268f * genc_fexp(-0.5f * x * x);
}

#endif
