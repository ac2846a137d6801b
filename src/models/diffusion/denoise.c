/* A trained model as the shared denoiser D(x; α, β) and as the divergence the likelihood
 * needs. The requested (α, β) may lie on any ray normalisation; the point is moved onto the
 * process's own, x_P = k·x with k = (α_P + β_P)/(α + β), where (α_P, β_P) are the process's
 * coefficients at the time whose σ is β/α. */
#include "genc/diffusion.h"
#include "net.h"

#include <math.h>
#include <string.h>

typedef struct at {
    double t, aP, bP, k, kin, cx, cf;
    float cn;
} at;

static void locate(const genc_dmodel *m, double a, double b, at *p) {
    double sigma = a > 0 ? b / a : INFINITY;
    p->t = genc_process_time(&m->proc, sigma);
    genc_process_coefs(&m->proc, p->t, &p->aP, &p->bP);
    p->k = (p->aP + p->bP) / (a + b);
    p->kin = genc_dpred_in_scale(m->cfg.pred, p->aP, p->bP, m->cfg.sigma_data);
    p->cn = (float)genc_process_cnoise(&m->proc, p->t);
    genc_dpred_x0_coefs(m->cfg.pred, p->aP, p->bP, m->cfg.sigma_data, &p->cx, &p->cf);
}

static int check_dim(const genc_dmodel *m, int dim) {
    int64_t D = (int64_t)m->cfg.channels * m->cfg.height * m->cfg.width;
    return D == dim ? GENC_OK : genc_set_error("denoiser: points of dimension %d for a model of %lld", dim, (long long)D);
}

int genc_dm_denoise(void *self, const float *x, int64_t n, int dim, double a, double b, float *x0) {
    genc_dm_denoiser *s = self;
    genc_dmodel *m = s->m;
    if (check_dim(m, dim)) return GENC_ERR;
    at p;
    locate(m, a, b, &p);
    int guided = m->class_emb && s->labels && s->cfg != 1;
    int64_t mb = s->max_batch > 0 ? s->max_batch : 256;
    for (int64_t i0 = 0; i0 < n; i0 += mb) {
        int nb = (int)(n - i0 < mb ? n - i0 : mb), rows = guided ? 2 * nb : nb;
        genc_ctx_reset(s->c);
        int prev = genc_no_grad(s->c);
        genc_tensor *X = genc_dm_example_tensor(s->c, &m->cfg, rows);
        float *cn = genc_scratch(s->c, sizeof(float) * (size_t)rows);
        int32_t *lab = genc_scratch(s->c, sizeof(int32_t) * (size_t)rows);
        float g = (float)(p.kin * p.k);
        for (int r = 0; r < rows; r++) {
            const float *xi = x + (i0 + r % nb) * dim;
            for (int j = 0; j < dim; j++) X->data[(int64_t)r * dim + j] = g * xi[j];
            cn[r] = p.cn;
            lab[r] = s->labels && r < nb ? s->labels[i0 + r] : m->cfg.n_classes;
        }
        genc_tensor *F = genc_dmodel_net(s->c, m, X, cn, m->class_emb ? lab : NULL);
        float w = s->cfg, fx = (float)(p.cx * p.k), ff = (float)p.cf;
        for (int r = 0; r < nb; r++)
            for (int j = 0; j < dim; j++) {
                int64_t q = (int64_t)r * dim + j;
                float f = F->data[q];
                if (guided) f = F->data[(int64_t)nb * dim + q] + w * (f - F->data[(int64_t)nb * dim + q]);
                float v = fx * x[(i0 + r) * dim + j] + ff * f;
                if (s->clip > 0) v = v < -s->clip ? -s->clip : v > s->clip ? s->clip : v;
                x0[(i0 + r) * dim + j] = v;
            }
        genc_restore_grad(s->c, prev);
    }
    genc_ctx_reset(s->c);
    return GENC_OK;
}

/* tr ∂x0/∂x̂ with x0 = cx·k·x̂ + cf·F(kin·k·x̂): dim·cx·k + cf·kin·k·tr ∂F/∂x_in, the last by
 * backpropagating Σ F ⊙ P for P = e_j (exact, one pass per dimension) or P = probe. */
int genc_dm_div(void *self, const float *x, int64_t n, int dim, double sigma, const float *probe, float *x0,
                double *tr) {
    genc_dm_denoiser *s = self;
    genc_dmodel *m = s->m;
    if (check_dim(m, dim)) return GENC_ERR;
    at p;
    locate(m, 1, sigma, &p);
    int64_t mb = s->max_batch > 0 ? s->max_batch : 256;
    int passes = probe ? 1 : dim;
    /* only the input's gradient is wanted: parameters leave the tape's backward alone */
    for (int i = 0; i < m->params.n; i++) m->params.list[i]->requires_grad = 0;
    for (int64_t i0 = 0; i0 < n; i0 += mb) {
        int nb = (int)(n - i0 < mb ? n - i0 : mb);
        for (int r = 0; r < nb; r++) tr[i0 + r] = 0;
        for (int j = 0; j < passes; j++) {
            genc_ctx_reset(s->c);
            genc_tensor *X = genc_dm_example_tensor(s->c, &m->cfg, nb);
            X->requires_grad = 1;
            float *cn = genc_scratch(s->c, sizeof(float) * (size_t)nb);
            int32_t *lab = genc_scratch(s->c, sizeof(int32_t) * (size_t)nb);
            for (int r = 0; r < nb; r++) {
                for (int q = 0; q < dim; q++) X->data[(int64_t)r * dim + q] = (float)(p.kin * p.k) * x[(i0 + r) * dim + q];
                cn[r] = p.cn;
                lab[r] = s->labels ? s->labels[i0 + r] : m->cfg.n_classes;
            }
            genc_tensor *F = genc_dmodel_net(s->c, m, X, cn, m->class_emb ? lab : NULL);
            if (j == 0)                 /* x0 = cx·x_P + cf·F from this pass's F */
                for (int64_t q = 0; q < (int64_t)nb * dim; q++)
                    x0[i0 * dim + q] = (float)(p.cx * p.k) * x[i0 * dim + q] + (float)p.cf * F->data[q];
            genc_tensor *P = genc_new_like(s->c, F);
            for (int r = 0; r < nb; r++)
                for (int q = 0; q < dim; q++)
                    P->data[(int64_t)r * dim + q] = probe ? probe[(i0 + r) * dim + q] : (float)(q == j);
            genc_backward(s->c, genc_sum(s->c, genc_mul(s->c, F, P)));
            const float *gx = genc_grad(s->c, X);
            for (int r = 0; r < nb; r++) {
                double d = 0;
                for (int q = 0; q < dim; q++) d += (double)P->data[(int64_t)r * dim + q] * gx[(int64_t)r * dim + q];
                tr[i0 + r] += d;
            }
        }
        for (int r = 0; r < nb; r++) {
            double pp = dim;
            if (probe) {
                pp = 0;
                for (int q = 0; q < dim; q++) pp += (double)probe[(i0 + r) * dim + q] * probe[(i0 + r) * dim + q];
            }
            tr[i0 + r] = p.cx * p.k * pp + p.cf * p.kin * p.k * tr[i0 + r];
        }
    }
    genc_ctx_reset(s->c);
    for (int i = 0; i < m->params.n; i++) m->params.list[i]->requires_grad = 1;
    return GENC_OK;
}
