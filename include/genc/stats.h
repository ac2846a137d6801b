/* genc stats: sample statistics every family's evaluation uses. */
#ifndef GENC_STATS_H
#define GENC_STATS_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean of v[n] and its standard error s/√n (sample standard deviation s, n − 1 in the
 * denominator; 0 when n < 2). */
double genc_mean_se(const double *v, int64_t n, double *se);

/* Energy distance between point sets x[n·dim] and y[m·dim] (Székely & Rizzo 2013):
 *   E = 2·mean‖x_i − y_j‖ − mean_{i≠i'}‖x_i − x_i'‖ − mean_{j≠j'}‖y_j − y_j'‖
 * (the unbiased U-statistic form: 0 in expectation for equal distributions, and the population
 * value is ≥ 0 with equality only for equal distributions). O((n + m)²·dim). */
double genc_energy_distance(const float *x, int64_t n, const float *y, int64_t m, int dim);

/* Mean mu[F] and covariance cov[F·F] (n − 1 in the denominator) of the rows of x[n·F], in
 * double. GENC_ERR when n < 2 or memory runs out. */
int genc_mean_cov(const float *x, int64_t n, int F, double *mu, double *cov);

/* Fréchet distance between the Gaussians N(μ1, C1) and N(μ2, C2) (Dowson & Landau 1982; the
 * FID of Heusel et al. 2017 in a feature space):
 *   ‖μ1 − μ2‖² + tr C1 + tr C2 − 2·tr (C1^½ C2 C1^½)^½
 * with the symmetric square roots from Jacobi eigendecompositions in double (negative
 * eigenvalues of rounding size clamped to 0). F ≤ 1024. GENC_ERR on memory or a bad F. */
int genc_frechet_distance(const double *mu1, const double *c1, const double *mu2, const double *c2, int F,
                          double *out);

#ifdef __cplusplus
}
#endif
#endif
