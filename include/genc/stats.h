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

#ifdef __cplusplus
}
#endif
#endif
