/* Sample statistics (genc/stats.h). Sums in double; the pair loops are parallel over rows with
 * a fixed reduction order per row, so the result does not depend on the thread count. */
#include "genc/stats.h"

#include <math.h>
#include <stdlib.h>

double genc_mean_se(const double *v, int64_t n, double *se) {
    double m = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) m += v[i];
    m = n > 0 ? m / n : 0;
    for (int64_t i = 0; i < n; i++) s2 += (v[i] - m) * (v[i] - m);
    if (se) *se = n > 1 ? sqrt(s2 / (n - 1) / n) : 0;
    return m;
}

/* Σ_i Σ_j ‖a_i − b_j‖ (skipping i == j when same). */
static double pair_sum(const float *a, int64_t n, const float *b, int64_t m, int dim, int same) {
    double *row = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!row) return NAN;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < m; j++) {
            if (same && i == j) continue;
            double d2 = 0;
            for (int k = 0; k < dim; k++) {
                double e = (double)a[i * dim + k] - b[j * dim + k];
                d2 += e * e;
            }
            s += sqrt(d2);
        }
        row[i] = s;
    }
    double t = 0;
    for (int64_t i = 0; i < n; i++) t += row[i];
    free(row);
    return t;
}

double genc_energy_distance(const float *x, int64_t n, const float *y, int64_t m, int dim) {
    if (n < 2 || m < 2) return NAN;
    double xy = pair_sum(x, n, y, m, dim, 0) / ((double)n * m);
    double xx = pair_sum(x, n, x, n, dim, 1) / ((double)n * (n - 1));
    double yy = pair_sum(y, m, y, m, dim, 1) / ((double)m * (m - 1));
    return 2 * xy - xx - yy;
}
