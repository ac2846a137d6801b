/* The whole flow: log p(x) = Σ_pieces log p_Z(piece) + Σ_layers log|det|, its inverse from a
 * flat latent, the priors (fixed, or Glow's learned prior for the pieces), and the map
 * between 8-bit pixels and the flow's input space. */
#include <math.h>
#include <string.h>

#include "flows_internal.h"

#define LN_2PI 1.8378770664093453

/* Gaussian: Σ −z²/2 − ½ ln 2π.  Logistic (NICE): Σ −log(1 + e^z) − log(1 + e^{−z})
 * = Σ log σ(z) + log σ(−z), stable for any z. */
genc_tensor *genc_flow_prior_logp(genc_ctx *c, genc_flow_prior p, genc_tensor *x) {
    int B = x->shape[0], n = (int)(x->n / B), sh[2] = {B, n};
    genc_tensor *z = genc_reshape(c, x, 2, sh), *e;
    if (p == GENC_PRIOR_GAUSSIAN) {
        e = genc_scale(c, genc_square(c, z), -0.5f);
        return genc_add_scalar(c, genc_sum_axis(c, e, 1, 0), (float)(-0.5 * LN_2PI * n));
    }
    e = genc_add(c, genc_log_sigmoid(c, z), genc_log_sigmoid(c, genc_scale(c, z, -1.f)));
    return genc_sum_axis(c, e, 1, 0);
}

/* Gaussian N(0, T²); logistic with scale T (inverse CDF of a uniform). */
void genc_flow_prior_sample(genc_flow_prior p, genc_rng *r, float temperature, float *z, int64_t n) {
    if (p == GENC_PRIOR_GAUSSIAN) {
        genc_rng_fill_normal(r, z, n, 0.f, temperature);
        return;
    }
    genc_rng_fill_uniform(r, z, n);
    for (int64_t i = 0; i < n; i++) {
        double u = z[i] < 1e-7f ? 1e-7 : z[i];
        z[i] = (float)(temperature * log(u / (1 - u)));
    }
}

/* Copy a piece [B, n] to / from its place in the flat latent [B, D]. */
static void piece_copy(float *z, int64_t D, int64_t off, float *piece, int B, int64_t n, int to_z) {
    for (int b = 0; b < B; b++) {
        float *zp = z + (int64_t)b * D + off, *pp = piece + (int64_t)b * n;
        if (to_z) memcpy(zp, pp, sizeof(float) * (size_t)n);
        else memcpy(pp, zp, sizeof(float) * (size_t)n);
    }
}

/* The learned prior's (μ, logs) of a piece [B, n, H, W]: for the split layer i, a 3×3
 * convolution of the kept half h [B, C − n, H, W] into 2n channels, μ the first n; for the
 * last piece (i < 0), the learned per-channel values prior.top = (μ, logs), as [1, n, 1, 1]. */
static void prior_params(genc_ctx *c, const genc_flow *f, int i, genc_tensor *h, genc_tensor **mean,
                         genc_tensor **logs) {
    genc_tensor *ml;
    int n;
    if (i >= 0) {
        const genc_flow_layer *l = &f->layers[i];
        ml = genc_conv2d(c, h, l->p0, l->p1, 1, 1);
        n = l->C / 2;
    } else {
        int sh[4] = {1, 2 * f->Cz, 1, 1};
        ml = genc_reshape(c, f->top, 4, sh);
        n = f->Cz;
    }
    *mean = genc_slice(c, ml, 1, 0, n);
    *logs = genc_slice(c, ml, 1, n, n);
}

/* log p of a piece z [B, n, H, W] per example [B], and its standardised value *eps:
 *   no prior net:  the prior's density of z; ε = z
 *   learned prior: log N(z; μ, e^{2 logs}) = log N(ε; 0, 1) − Σ logs,  ε = (z − μ)·e^{−logs}
 * h is the kept half next to a split's piece (i ≥ 0) or NULL for the last piece (i < 0). */
static genc_tensor *piece_logp(genc_ctx *c, const genc_flow *f, int i, genc_tensor *h, genc_tensor *z,
                               genc_tensor **eps) {
    if (f->cfg.prior_net != GENC_PRIOR_NET_CONV) {
        *eps = z;
        return genc_flow_prior_logp(c, f->cfg.prior, z);
    }
    genc_tensor *mean, *logs, *ls;
    prior_params(c, f, i, h, &mean, &logs);
    *eps = genc_mul(c, genc_sub(c, z, mean), genc_exp(c, genc_scale(c, logs, -1.f)));
    int B = z->shape[0];
    if (i >= 0) {
        int sh[2] = {B, (int)(logs->n / B)};
        ls = genc_sum_axis(c, genc_reshape(c, logs, 2, sh), 1, 0);          /* [B] */
    } else ls = genc_scale(c, genc_sum(c, logs), (float)f->Hz * f->Wz);   /* [1], the same for all */
    return genc_sub(c, genc_flow_prior_logp(c, GENC_PRIOR_GAUSSIAN, *eps), ls);
}

/* The inverse of piece_logp: z = μ + e^{logs}·ε (z = ε without a prior net). */
static genc_tensor *piece_from_eps(genc_ctx *c, const genc_flow *f, int i, genc_tensor *h, genc_tensor *eps) {
    if (f->cfg.prior_net != GENC_PRIOR_NET_CONV) return eps;
    genc_tensor *mean, *logs;
    prior_params(c, f, i, h, &mean, &logs);
    return genc_add(c, mean, genc_mul(c, eps, genc_exp(c, logs)));
}

genc_tensor *genc_flow_log_prob(genc_ctx *c, genc_flow *f, genc_tensor *x, float *z) {
    int B = x->shape[0];
    genc_tensor *logdet = genc_zeros(c, 1, &B), *lp = NULL, *h = x, *eps;
    for (int i = 0; i < f->n_layers; i++) {
        genc_tensor *piece = NULL;
        h = genc_flow_layer_forward(c, f, i, h, &logdet, &piece);
        if (piece) {
            genc_tensor *p = piece_logp(c, f, i, h, piece, &eps);
            lp = lp ? genc_add(c, lp, p) : p;
            if (z) piece_copy(z, f->D, f->layers[i].zoff, eps->data, B, eps->n / B, 1);
        }
    }
    f->actnorm_pending = 0;
    genc_tensor *p = piece_logp(c, f, -1, NULL, h, &eps);
    lp = lp ? genc_add(c, lp, p) : p;
    if (z) piece_copy(z, f->D, f->zoff_final, eps->data, B, eps->n / B, 1);
    return genc_add(c, lp, logdet);
}

genc_tensor *genc_flow_inverse(genc_ctx *c, genc_flow *f, const float *z, int B) {
    int sh[4] = {B, f->Cz, f->Hz, f->Wz};
    genc_tensor *h = genc_new(c, 4, sh);
    piece_copy((float *)z, f->D, f->zoff_final, h->data, B, h->n / B, 0);
    h = piece_from_eps(c, f, -1, NULL, h);
    for (int i = f->n_layers - 1; i >= 0; i--) {
        const genc_flow_layer *l = &f->layers[i];
        genc_tensor *piece = NULL;
        if (l->kind == GENC_FL_SPLIT) {
            int ps[4] = {B, l->C / 2, l->H, l->W};
            piece = genc_new(c, 4, ps);
            piece_copy((float *)z, f->D, l->zoff, piece->data, B, piece->n / B, 0);
            piece = piece_from_eps(c, f, i, h, piece);
        }
        h = genc_flow_layer_inverse(c, f, i, h, piece);
    }
    return h;
}

/* Pixels v (0..255) and noise u → x = (v + u)/256 ∈ [0, 1) → y = pre(x):
 *   none: y = x;  center: y = x − ½;  logit: p = α + (1 − α)x, y = log p − log(1 − p),
 *   log|dy/dx| = log(1 − α) − log p − log(1 − p).
 * logjac = Σ log|dy/dx| − D ln 256 per example: log p(v + u) = log p_flow(y) + logjac, the
 * density of the dequantised 8-bit data on [0, 256)^D (its negative is the bound on the
 * discrete NLL that bits/dim reports). */
void genc_flow_preprocess(const genc_flow_config *cfg, const float *pix, const float *u, int B, float *y,
                          double *logjac) {
    int64_t D = (int64_t)cfg->C * cfg->H * cfg->W;
    double a = cfg->logit_alpha;
    for (int b = 0; b < B; b++) {
        double lj = 0;
        for (int64_t k = 0; k < D; k++) {
            int64_t i = (int64_t)b * D + k;
            if (cfg->toy >= 0) {
                y[i] = pix[i];
                continue;
            }
            double x = (pix[i] + (u ? u[i] : 0.5)) / 256.0;
            if (cfg->pre == GENC_PRE_LOGIT) {
                double p = a + (1 - a) * x;
                y[i] = (float)(log(p) - log1p(-p));
                lj += log1p(-a) - log(p) - log1p(-p);
            } else y[i] = (float)(cfg->pre == GENC_PRE_CENTER ? x - 0.5 : x);
        }
        if (logjac) logjac[b] = cfg->toy >= 0 ? 0 : lj - (double)D * log(256.0);
    }
}

void genc_flow_postprocess(const genc_flow_config *cfg, const float *y, int64_t n, float *pix) {
    double a = cfg->logit_alpha;
    for (int64_t i = 0; i < n; i++) {
        if (cfg->toy >= 0) {
            pix[i] = y[i];
            continue;
        }
        double x = y[i];
        if (cfg->pre == GENC_PRE_LOGIT) x = (1 / (1 + exp(-x)) - a) / (1 - a);
        else if (cfg->pre == GENC_PRE_CENTER) x += 0.5;
        double v = floor(x * 256.0);
        pix[i] = (float)(v > 255 ? 255 : v >= 0 ? v : 0);   /* NaN → 0 */
    }
}
