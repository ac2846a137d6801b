/* Mean and 1/std of one row of n floats, for the normalisation ops (internal to src/ops). */
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

#endif
