/* Likelihood through the probability-flow ODE (genc/diffusion.h), integrated by RK4 in
 * u = ln σ: dx̂/du = x̂ − D(x̂; σ) and d(∫div)/du = dim − tr ∂D/∂x̂. State in double: the
 * log-density sums dim·(ln σmax − ln σmin) ≈ 20 nats per dimension that must cancel. */
#include "genc/diffusion.h"
#include "genc/ode.h"

#include <math.h>
#include <stdlib.h>

typedef struct pf {
    const genc_div_fn *d;
    int64_t n;
    int dim;
    const float *probe;
    float *x, *x0;
    double *tr;
} pf;

static int pf_rhs(void *user, double u, const double *y, double *dy, int64_t len) {
    pf *s = user;
    int64_t m = s->n * s->dim;
    (void)len;
    for (int64_t i = 0; i < m; i++) s->x[i] = (float)y[i];
    if (s->d->fn(s->d->self, s->x, s->n, s->dim, exp(u), s->probe, s->x0, s->tr)) return GENC_ERR;
    for (int64_t i = 0; i < m; i++) dy[i] = y[i] - s->x0[i];
    for (int64_t i = 0; i < s->n; i++) dy[m + i] = s->dim - s->tr[i];
    return GENC_OK;
}

int genc_pf_nll(const genc_div_fn *d, const genc_nll_opts *o, const float *x, int64_t n, int dim, genc_rng *r,
                double *nll) {
    if (!(o->sigma_min > 0 && o->sigma_max > o->sigma_min) || o->steps < 1)
        return genc_set_error("likelihood: needs 0 < sigma_min < sigma_max and steps >= 1");
    int64_t m = n * dim;
    pf s = {.d = d, .n = n, .dim = dim};
    double *y = genc_aligned_alloc(sizeof(double) * (size_t)(m + n));
    s.x = genc_aligned_alloc(sizeof(float) * (size_t)m);
    s.x0 = genc_aligned_alloc(sizeof(float) * (size_t)m);
    s.tr = genc_aligned_alloc(sizeof(double) * (size_t)n);
    float *probe = o->hutchinson ? genc_aligned_alloc(sizeof(float) * (size_t)m) : NULL;
    int rc = GENC_ERR;
    if (!y || !s.x || !s.x0 || !s.tr || (o->hutchinson && !probe)) goto done;
    if (probe) genc_rng_fill_normal(r, probe, m, 0, 1);
    s.probe = probe;
    for (int64_t i = 0; i < m; i++) y[i] = x[i];
    for (int64_t i = 0; i < n; i++) y[m + i] = 0;
    rc = genc_ode_rk4(pf_rhs, &s, log(o->sigma_min), log(o->sigma_max), o->steps, y, m + n);
    if (rc) goto done;
    /* −log p_min(x) = −log N(x̂(σmax); 0, σmax² I) − ∫div */
    double v = o->sigma_max * o->sigma_max;
    for (int64_t i = 0; i < n; i++) {
        double q = 0;
        for (int j = 0; j < dim; j++) q += y[i * dim + j] * y[i * dim + j];
        nll[i] = 0.5 * q / v + 0.5 * dim * log(2 * M_PI * v) - y[m + i];
    }
done:
    genc_aligned_free(y);
    genc_aligned_free(s.x);
    genc_aligned_free(s.x0);
    genc_aligned_free(s.tr);
    genc_aligned_free(probe);
    return rc;
}
