/* Statistics of one row of n floats shared by the normalisation, softmax and reduction ops
 * (internal to src/ops). */
#ifndef GENC_OPS_ROWSTATS_H
#define GENC_OPS_ROWSTATS_H

#include <math.h>
#include <stdint.h>

/* Biased variance, as PyTorch's norms: rstd = 1/√(mean((x − μ)²) + eps). Accumulated in
 * double, in two passes (mean, then centred squares): no E[x²] − E[x]² cancellation, and n
 * floats summed in float would lose digits that the normalised output then amplifies. */
static inline void genc_row_stats(const float *x, int64_t n, float eps, float *mean, float *rstd) {
    double s = 0, v = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < n; j++) s += x[j];
    double mu = s / (double)n;
#pragma omp simd reduction(+ : v)
    for (int64_t j = 0; j < n; j++) v += ((double)x[j] - mu) * ((double)x[j] - mu);
    *mean = (float)mu;
    *rstd = (float)(1.0 / sqrt(v / (double)n + eps));
}

/* max of x[0..n) (n >= 1) in 16 independent lanes: a max reduction that gcc and clang both
 * vectorise without -ffast-math (clang refuses "omp simd reduction(max)" over floats). */
static inline float genc_row_max(const float *x, int64_t n) {
    enum { L = 16 };
    float lane[L];
    for (int l = 0; l < L; l++) lane[l] = x[0];
    int64_t j = 0;
    for (; j + L <= n; j += L)
#pragma omp simd
        for (int l = 0; l < L; l++) lane[l] = x[j + l] > lane[l] ? x[j + l] : lane[l];
    float m = x[0];
    for (int l = 0; l < L; l++) m = lane[l] > m ? lane[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

#endif
