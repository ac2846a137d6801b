/* The ideal denoiser of Gaussian-mixture data, in closed form: the reference that tests
 * samplers and likelihoods without a network. For x0 ~ Σ_k w_k N(μ_k, s_k² I) and
 * x = α·x0 + β·ε, component k gives x ~ N(α μ_k, v_k I) with v_k = α² s_k² + β², and
 *   E[x0 | x, k] = μ_k + (α s_k²/v_k)·(x − α μ_k)      (Gaussian conditioning)
 * weighted by the responsibilities r_k(x) ∝ w_k N(x; α μ_k, v_k I). */
#include "genc/diffusion.h"

#include <math.h>

int genc_gmm_denoise(void *self, const float *x, int64_t n, int dim, double a, double b, float *x0) {
    const genc_gmm *g = self;
    if (g->K < 1 || g->K > 64 || dim != g->dim) return genc_set_error("gmm: %d components of dim %d for points of dim %d", g->K, g->dim, dim);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double logr[64], mx = -INFINITY;
        const float *xi = x + i * dim;
        for (int k = 0; k < g->K; k++) {
            double v = a * a * g->s[k] * g->s[k] + b * b, d2 = 0;
            for (int j = 0; j < dim; j++) {
                double e = xi[j] - a * g->mu[k * dim + j];
                d2 += e * e;
            }
            logr[k] = log(g->w[k]) - 0.5 * dim * log(v) - 0.5 * d2 / v;
            if (logr[k] > mx) mx = logr[k];
        }
        double z = 0;
        for (int k = 0; k < g->K; k++) z += (logr[k] = exp(logr[k] - mx));
        for (int j = 0; j < dim; j++) {
            double m = 0;
            for (int k = 0; k < g->K; k++) {
                double v = a * a * g->s[k] * g->s[k] + b * b, mu = g->mu[k * dim + j];
                m += logr[k] / z * (mu + a * g->s[k] * g->s[k] / v * (xi[j] - a * mu));
            }
            x0[i * dim + j] = (float)m;
        }
    }
    return GENC_OK;
}

void genc_gmm_sample(const genc_gmm *g, genc_rng *r, int64_t n, float *x) {
    for (int64_t i = 0; i < n; i++) {
        double u = genc_rng_uniform(r), c = 0;
        int k = 0;
        for (; k < g->K - 1; k++) if (u < (c += g->w[k])) break;
        for (int j = 0; j < g->dim; j++) x[i * g->dim + j] = (float)(g->mu[k * g->dim + j] + g->s[k] * genc_rng_normal(r));
    }
}

/* K = 1 at (α, β) = (1, σ): ∂D/∂x = s²/(s² + σ²)·I, so tr = dim·c and probeᵀJ probe = c‖probe‖². */
int genc_gmm_div(void *self, const float *x, int64_t n, int dim, double sigma, const float *probe, float *x0,
                 double *tr) {
    const genc_gmm *g = self;
    if (g->K != 1) return genc_set_error("gmm: the divergence is implemented for one component, not %d", g->K);
    if (genc_gmm_denoise(self, x, n, dim, 1, sigma, x0)) return GENC_ERR;
    double c = g->s[0] * g->s[0] / (g->s[0] * g->s[0] + sigma * sigma);
    for (int64_t i = 0; i < n; i++) {
        double q = dim;
        if (probe) {
            q = 0;
            for (int j = 0; j < dim; j++) q += (double)probe[i * dim + j] * probe[i * dim + j];
        }
        tr[i] = c * q;
    }
    return GENC_OK;
}
