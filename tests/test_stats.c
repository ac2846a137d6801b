/* Sample statistics: the mean and standard error of a hand-worked set; the energy distance of
 * two hand-worked point sets (1D: x = {0, 1}, y = {3}·2 → 2·mean|x − y| − |0 − 1| − 0 =
 * 2·2.5 − 1 = 4); near 0 for two samples of one distribution (the U-statistic's mean is
 * exactly 0 and its standard deviation at n = 400 is about 0.005 for 2D unit Gaussians, so
 * |E| < 0.05 is ten of them); and clearly positive for a shift of (0.5, 0.5): the population
 * value 2(E‖Z_δ‖ − E‖Z_0‖), Z_δ ~ N(δ, 2I), is 0.218 by the Rice mean, so E > 0.1.
 * The Fréchet distance and the mean/covariance: see below; and against PyTorch
 * (tests/parity/stats.py: LAPACK's eigensolver instead of Jacobi, non-commuting 24×24
 * covariances) to 1e-8 relative, the double-precision agreement of two eigensolvers on
 * well-conditioned matrices (eigenvalues ≥ 0.1) after the float32 rounding of the stored
 * value is added back. */
#include "genc/stats.h"
#include "testutil.h"

#include <stdlib.h>

int main(void) {
    const double v[4] = {1, 2, 3, 6};
    double se, m = genc_mean_se(v, 4, &se);
    CHECK(fabs(m - 3) < 1e-12, "mean %g", m);
    CHECK(fabs(se - sqrt(14.0 / 3 / 4)) < 1e-12, "se %g", se);
    const float x[2] = {0, 1}, y[2] = {3, 3};
    double e = genc_energy_distance(x, 2, y, 2, 1);
    CHECK(fabs(e - 4) < 1e-9, "hand-worked energy distance %g, want 4", e);
    enum { n = 400 };
    float *a = malloc(sizeof(float) * n * 2), *b = malloc(sizeof(float) * n * 2);
    genc_rng r = genc_rng_make(1, 0);
    genc_rng_fill_normal(&r, a, n * 2, 0, 1);
    genc_rng_fill_normal(&r, b, n * 2, 0, 1);
    double e0 = genc_energy_distance(a, n, b, n, 2);
    CHECK(fabs(e0) < 0.05, "same distribution: energy distance %g", e0);
    for (int i = 0; i < n * 2; i++) b[i] += 0.5f;
    double e1 = genc_energy_distance(a, n, b, n, 2);
    CHECK(e1 > 0.1, "shifted by 0.5: energy distance %g", e1);
    CHECK(isnan(genc_energy_distance(a, 1, b, n, 2)), "one point: NaN");
    free(a);
    free(b);

    /* Fréchet distance. Commuting covariances C1 = Q D1 Qᵀ, C2 = Q D2 Qᵀ (a random rotation Q):
     * the closed form is ‖Δμ‖² + Σ (√d1 − √d2)². Identical Gaussians: 0. Tolerance 1e-9
     * relative: double arithmetic on 6×6 matrices with Jacobi to 1e-11 off-diagonal mass. */
    enum { F = 6 };
    double q[F * F], c1[F * F], c2[F * F], m1[F], m2[F], d1[F], d2[F], fd, want = 0;
    double rnd[F * F];
    genc_rng rq = genc_rng_make(3, 0);
    for (int i = 0; i < F * F; i++) rnd[i] = genc_rng_normal(&rq);
    for (int j = 0; j < F; j++) {                     /* Gram–Schmidt on the columns */
        for (int i = 0; i < F; i++) q[i * F + j] = rnd[i * F + j];
        for (int k = 0; k < j; k++) {
            double dot = 0;
            for (int i = 0; i < F; i++) dot += q[i * F + j] * q[i * F + k];
            for (int i = 0; i < F; i++) q[i * F + j] -= dot * q[i * F + k];
        }
        double nn = 0;
        for (int i = 0; i < F; i++) nn += q[i * F + j] * q[i * F + j];
        for (int i = 0; i < F; i++) q[i * F + j] /= sqrt(nn);
    }
    for (int k = 0; k < F; k++) {
        d1[k] = 0.5 + k;
        d2[k] = 2.0 / (1 + k);
        m1[k] = 0.1 * k;
        m2[k] = -0.2 * k + 1;
        want += (m1[k] - m2[k]) * (m1[k] - m2[k]) + (sqrt(d1[k]) - sqrt(d2[k])) * (sqrt(d1[k]) - sqrt(d2[k]));
    }
    for (int i = 0; i < F; i++)
        for (int j = 0; j < F; j++) {
            c1[i * F + j] = c2[i * F + j] = 0;
            for (int k = 0; k < F; k++) {
                c1[i * F + j] += q[i * F + k] * d1[k] * q[j * F + k];
                c2[i * F + j] += q[i * F + k] * d2[k] * q[j * F + k];
            }
        }
    CHECK(genc_frechet_distance(m1, c1, m2, c2, F, &fd) == GENC_OK, "frechet: %s", genc_error());
    CHECK(fabs(fd - want) < 1e-9 * want, "Fréchet distance %.12g, closed form %.12g", fd, want);
    CHECK(genc_frechet_distance(m1, c1, m1, c1, F, &fd) == GENC_OK && fabs(fd) < 1e-9, "same Gaussian: %g", fd);
    /* mean and covariance of a hand-worked set: rows (0, 0), (2, 2), (4, -2) */
    const float pts[6] = {0, 0, 2, 2, 4, -2};
    double mu[2], cv[4];
    CHECK(genc_mean_cov(pts, 3, 2, mu, cv) == GENC_OK && mu[0] == 2 && mu[1] == 0 && cv[0] == 4 && cv[3] == 4 &&
          cv[1] == -2 && cv[2] == -2, "mean/cov: %g %g | %g %g %g %g", mu[0], mu[1], cv[0], cv[1], cv[2], cv[3]);
    genc_st_file P;
    if (tu_fixture("stats.py", "stats_fixture.safetensors", &P) == GENC_OK) {
        int64_t k;
        float *fc1 = tu_get(&P, "fd.c1", &k), *fc2 = tu_get(&P, "fd.c2", &k);
        float *fm1 = tu_get(&P, "fd.m1", &k), *fm2 = tu_get(&P, "fd.m2", &k);
        float *fv = tu_get(&P, "fd.value", &k), *fh = tu_get(&P, "fd.value_hi", &k);
        enum { G = 24 };
        double dc1[G * G], dc2[G * G], dm1[G], dm2[G], got;
        for (int i = 0; i < G * G; i++) { dc1[i] = fc1[i]; dc2[i] = fc2[i]; }
        for (int i = 0; i < G; i++) { dm1[i] = fm1[i]; dm2[i] = fm2[i]; }
        double ref = (double)fv[0] + (double)fh[0];
        CHECK(genc_frechet_distance(dm1, dc1, dm2, dc2, G, &got) == GENC_OK && fabs(got - ref) < 1e-8 * fabs(ref),
              "Fréchet distance %.12g, PyTorch %.12g", got, ref);
        free(fc1); free(fc2); free(fm1); free(fm2); free(fv); free(fh);
        genc_st_free(&P);
    }
    return tu_finish();
}
