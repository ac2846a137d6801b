/* Sample statistics (genc/stats.h). Sums in double; the pair loops are parallel over rows with
 * a fixed reduction order per row, so the result does not depend on the thread count. */
#include "genc/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int genc_mean_cov(const float *x, int64_t n, int F, double *mu, double *cov) {
    if (n < 2 || F < 1) return genc_set_error("mean and covariance need at least 2 rows (got %lld)", (long long)n);
    for (int j = 0; j < F; j++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += x[i * F + j];
        mu[j] = s / n;
    }
#pragma omp parallel for schedule(dynamic)
    for (int a = 0; a < F; a++)
        for (int b = a; b < F; b++) {
            double s = 0;
            for (int64_t i = 0; i < n; i++) s += (x[i * F + a] - mu[a]) * (x[i * F + b] - mu[b]);
            cov[(int64_t)a * F + b] = cov[(int64_t)b * F + a] = s / (n - 1);
        }
    return GENC_OK;
}

/* Cyclic Jacobi rotations (Golub & Van Loan §8.5) on the symmetric a[F·F] (destroyed): the
 * eigenvalues into w[F], the eigenvectors into the columns of v[F·F]. Sweeps until the
 * off-diagonal mass is below 1e-22 of the total (double precision) or 100 sweeps. */
static void jacobi_eig(double *a, int F, double *w, double *v) {
    for (int i = 0; i < F; i++)
        for (int j = 0; j < F; j++) v[i * F + j] = i == j;
    double total = 0;
    for (int64_t i = 0; i < (int64_t)F * F; i++) total += a[i] * a[i];
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < F; p++)
            for (int q = p + 1; q < F; q++) off += 2 * a[p * F + q] * a[p * F + q];
        if (off <= 1e-22 * total || off == 0) break;
        for (int p = 0; p < F; p++)
            for (int q = p + 1; q < F; q++) {
                double apq = a[p * F + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * F + q] - a[p * F + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < F; k++) {            /* columns p, q of a */
                    double akp = a[k * F + p], akq = a[k * F + q];
                    a[k * F + p] = c * akp - s * akq;
                    a[k * F + q] = s * akp + c * akq;
                }
                for (int k = 0; k < F; k++) {            /* rows p, q */
                    double apk = a[p * F + k], aqk = a[q * F + k];
                    a[p * F + k] = c * apk - s * aqk;
                    a[q * F + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < F; k++) {
                    double vkp = v[k * F + p], vkq = v[k * F + q];
                    v[k * F + p] = c * vkp - s * vkq;
                    v[k * F + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < F; i++) w[i] = a[i * F + i];
}

int genc_frechet_distance(const double *mu1, const double *c1, const double *mu2, const double *c2, int F, double *out) {
    if (F < 1 || F > 1024) return genc_set_error("Fréchet distance: %d features (1..1024)", F);
    size_t FF = (size_t)F * F;
    double *a = malloc(sizeof(double) * FF), *v = malloc(sizeof(double) * FF), *s = malloc(sizeof(double) * FF),
           *t = malloc(sizeof(double) * FF), *w = malloc(sizeof(double) * F);
    if (!a || !v || !s || !t || !w) {
        free(a); free(v); free(s); free(t); free(w);
        return genc_set_error("out of memory");
    }
    /* S = C1^½ = V diag(√max(λ, 0)) Vᵀ */
    memcpy(a, c1, sizeof(double) * FF);
    jacobi_eig(a, F, w, v);
    for (int i = 0; i < F; i++)
        for (int j = 0; j < F; j++) {
            double x = 0;
            for (int k = 0; k < F; k++) x += v[i * F + k] * sqrt(fmax(w[k], 0)) * v[j * F + k];
            s[i * F + j] = x;
        }
    /* M = S C2 S, symmetric PSD; tr M^½ = Σ √λ(M) */
    for (int i = 0; i < F; i++)
        for (int j = 0; j < F; j++) {
            double x = 0;
            for (int k = 0; k < F; k++) x += c2[i * F + k] * s[k * F + j];
            t[i * F + j] = x;
        }
    for (int i = 0; i < F; i++)
        for (int j = 0; j < F; j++) {
            double x = 0;
            for (int k = 0; k < F; k++) x += s[i * F + k] * t[k * F + j];
            a[i * F + j] = x;
        }
    for (int i = 0; i < F; i++)                        /* exact symmetry before the rotations */
        for (int j = i + 1; j < F; j++) a[i * F + j] = a[j * F + i] = 0.5 * (a[i * F + j] + a[j * F + i]);
    jacobi_eig(a, F, w, v);
    double d = 0, tr = 0;
    for (int i = 0; i < F; i++) {
        d += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        tr += c1[i * F + i] + c2[i * F + i] - 2 * sqrt(fmax(w[i], 0));
    }
    *out = d + tr;
    free(a); free(v); free(s); free(t); free(w);
    return GENC_OK;
}
