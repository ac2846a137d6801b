/* Probability-flow likelihood against the closed form. For Gaussian data x0 ~ N(μ, s² I) the
 * exact denoiser is linear and the density at σmin is N(μ, (s² + σmin²) I), so the PF-ODE
 * NLL of each point has a closed form to compare with.
 *
 * Tolerance: the ODE is solved by RK4 with 120 steps in ln σ over ln(σmax/σmin) = 11.3 (error
 * ~1e-7). What remains is the prior at σmax = 80: the method takes N(0, σmax²) for the true
 * N(μ, s² + σmax²), a per-point error of about |μ|·|x̂|/σmax² ≤ 0.36·4·80/6400 = 0.018 whose
 * mean over points is ~0 and a mean offset dim·s²/(2σmax²) = 8e-5. So each point within 0.02,
 * the mean within 2e-3 (the cross term averages over 2000 points to 0.018/√2000 ≈ 4e-4).
 * The Hutchinson estimate (one Gaussian probe per point) is unbiased: its mean over 2000 points
 * lies within 4 of its own standard errors of the exact mean, and that standard error is
 * not 0 (the probe really is random). */
#include "genc/diffusion.h"
#include "testutil.h"

#include <stdlib.h>

int main(void) {
    const double mu[2] = {0.3, -0.2}, w[1] = {1}, s[1] = {0.7};
    genc_gmm g = {.K = 1, .dim = 2, .w = w, .mu = mu, .s = s};
    genc_div_fn d = {genc_gmm_div, &g};
    enum { n = 2000 };
    float *x = malloc(sizeof(float) * n * 2);
    double *nll = malloc(sizeof(double) * n), *nh = malloc(sizeof(double) * n);
    genc_nll_opts o = {.sigma_min = 1e-3, .sigma_max = 80, .steps = 120};
    double v = s[0] * s[0] + o.sigma_min * o.sigma_min;
    genc_rng r = genc_rng_make(4, 0);
    for (int i = 0; i < n * 2; i++) x[i] = (float)(mu[i % 2] + sqrt(v) * genc_rng_normal(&r));
    CHECK(genc_pf_nll(&d, &o, x, n, 2, &r, nll) == GENC_OK, "pf_nll: %s", genc_error());
    double worst = 0, mean_err = 0, mean_exact = 0;
    for (int i = 0; i < n; i++) {
        double q = 0;
        for (int j = 0; j < 2; j++) q += (x[i * 2 + j] - mu[j]) * (x[i * 2 + j] - mu[j]);
        double exact = 0.5 * q / v + log(2 * M_PI * v);
        worst = fmax(worst, fabs(nll[i] - exact));
        mean_err += (nll[i] - exact) / n;
        mean_exact += exact / n;
    }
    CHECK(worst < 0.02, "per-point NLL off the closed form by up to %.4g", worst);
    CHECK(fabs(mean_err) < 2e-3, "mean NLL off by %.4g (exact mean %.4f)", mean_err, mean_exact);

    o.hutchinson = 1;
    CHECK(genc_pf_nll(&d, &o, x, n, 2, &r, nh) == GENC_OK, "pf_nll hutchinson: %s", genc_error());
    double m = 0, m2 = 0;
    for (int i = 0; i < n; i++) { m += (nh[i] - nll[i]) / n; m2 += (nh[i] - nll[i]) * (nh[i] - nll[i]) / n; }
    double se = sqrt((m2 - m * m) / n);
    CHECK(se > 1e-3, "Hutchinson estimate has no spread (se %.3g)", se);
    CHECK(fabs(m) < 4 * se, "Hutchinson mean differs from the exact divergence by %.4g (se %.4g)", m, se);

    genc_nll_opts bad = {.sigma_min = 1, .sigma_max = 0.5, .steps = 10};
    CHECK(genc_pf_nll(&d, &bad, x, 1, 2, &r, nll) == GENC_ERR, "sigma_max below sigma_min refused");
    free(x);
    free(nll);
    free(nh);
    return tu_finish();
}
