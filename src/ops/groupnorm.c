/* GroupNorm (Wu & He, 2018) on x[B, C, H, W] or x[B, C, L].
 *
 * The C channels form G groups of C/G; each (sample, group) is one contiguous row of
 * D = (C/G)·S values (S = H·W or L), normalised by its own mean and biased variance, then
 * scaled and shifted per channel (PyTorch's nn.GroupNorm):
 *   y[b, c, s] = (x − μ_bg)·rstd_bg · w[c] + b[c],  rstd = 1/√(σ² + eps)
 * Row statistics come from genc_row_stats (double, two passes) and are saved for backward.
 * Backward, with x̂ = (x − μ)·rstd and dx̂ = dy·w[c]:
 *   dx = rstd·(dx̂ − mean_row(dx̂) − x̂·mean_row(dx̂·x̂)),  dw[c] = Σ_{b,s} dy·x̂,  db[c] = Σ_{b,s} dy
 * Both row means follow from two per-channel sums, Σ_s dy and Σ_s dy·x̂, which are also the
 * per-sample shares of db and dw: they are stored as [B, C] partials and summed over the
 * batch in order, so the result does not depend on the thread count. */
#include "genc/ops.h"

#include "colsum.h"
#include "rowstats.h"

#define PAR_MIN 16384

typedef struct gn_geom {
    int B, C, G, S;
} gn_geom;

static gn_geom geometry(const genc_tensor *x, int groups) {
    char s[64];
    GENC_ASSERT((x->ndim == 3 || x->ndim == 4) && groups >= 1 && x->shape[1] % groups == 0,
                "group_norm: input %s is not [B, C, H, W] or [B, C, L] with C divisible by %d groups",
                genc_shape_str(x, s, sizeof s), groups);
    return (gn_geom){x->shape[0], x->shape[1], groups, (int)(x->n / ((int64_t)x->shape[0] * x->shape[1]))};
}

static void group_norm_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    gn_geom g = geometry(x, (int)nd->iarg[0]);
    const float *mean = nd->saved, *rstd = mean + (int64_t)g.B * g.G, *dy = nd->out->grad;
    int Cg = g.C / g.G, S = g.S;
    int64_t D = (int64_t)Cg * S, rows = (int64_t)g.B * g.G;
    int fresh = 0;
    float *gx = x->requires_grad ? genc_grad_fresh(c, x, &fresh) : NULL;
    /* per (b, c): Σ_s dy and Σ_s dy·x̂ */
    float *sdy = genc_scratch(c, (size_t)(2 * g.B * (int64_t)g.C) * sizeof(float)), *sdyx = sdy + (int64_t)g.B * g.C;
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * D, *gr = dy + r * D;
        float mu = mean[r], rs = rstd[r];
        int c0 = (int)(r % g.G) * Cg;
        double m1 = 0, m2 = 0;
        for (int k = 0; k < Cg; k++) {
            double s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
            for (int s = 0; s < S; s++) {
                s1 += gr[(int64_t)k * S + s];
                s2 += gr[(int64_t)k * S + s] * (xr[(int64_t)k * S + s] - mu);
            }
            int64_t bc = (r / g.G) * g.C + c0 + k;
            sdy[bc] = (float)s1;
            sdyx[bc] = (float)(s2 * rs);
            double wc = w ? w->data[c0 + k] : 1.0;
            m1 += wc * s1;
            m2 += wc * s2 * rs;
        }
        if (!gx) continue;
        float a = (float)(m1 / D), e = (float)(m2 / D);
        float *dr = gx + r * D;
        for (int k = 0; k < Cg; k++) {
            float wc = w ? w->data[c0 + k] : 1.0f;
            const float *xk = xr + (int64_t)k * S, *gk = gr + (int64_t)k * S;
            float *dk = dr + (int64_t)k * S;
            if (fresh) { /* x's first gradient: stored, not added (genc_grad_fresh) */
#pragma omp simd
                for (int s = 0; s < S; s++) dk[s] = rs * (gk[s] * wc - a - (xk[s] - mu) * rs * e);
                continue;
            }
#pragma omp simd
            for (int s = 0; s < S; s++) dk[s] += rs * (gk[s] * wc - a - (xk[s] - mu) * rs * e);
        }
    }
    if (w && w->requires_grad) genc_colsum_add(sdyx, NULL, g.B, g.C, genc_grad(c, w), 1.0f);
    if (b && b->requires_grad) genc_colsum_add(sdy, NULL, g.B, g.C, genc_grad(c, b), 1.0f);
}

/* x[B, C, H, W] or [B, C, L], w[C] and b[C] (either may be NULL) → y, the shape of x */
genc_tensor *genc_group_norm(genc_ctx *c, genc_tensor *x, int groups, genc_tensor *w, genc_tensor *b,
                             float eps) {
    gn_geom g = geometry(x, groups);
    GENC_ASSERT((!w || w->n == g.C) && (!b || b->n == g.C), "group_norm: weight and bias must have %d elements",
                g.C);
    int Cg = g.C / g.G, S = g.S;
    int64_t D = (int64_t)Cg * S, rows = (int64_t)g.B * g.G;
    genc_tensor *y = genc_new_like(c, x);
    float *stats = genc_scratch(c, (size_t)(2 * rows) * sizeof(float)); /* mean[rows], rstd[rows] */
#pragma omp parallel for schedule(static) if (x->n > PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * D;
        float *yr = y->data + r * D;
        float mu, rs;
        genc_row_stats(xr, D, eps, &mu, &rs);
        stats[r] = mu;
        stats[rows + r] = rs;
        int c0 = (int)(r % g.G) * Cg;
        for (int k = 0; k < Cg; k++) { /* y = x·scale + shift, per channel */
            float scale = rs * (w ? w->data[c0 + k] : 1.0f);
            float shift = (b ? b->data[c0 + k] : 0.0f) - mu * scale;
            const float *xk = xr + (int64_t)k * S;
            float *yk = yr + (int64_t)k * S;
#pragma omp simd
            for (int j = 0; j < S; j++) yk[j] = xk[j] * scale + shift;
        }
    }
    genc_node *nd = genc_record(c, group_norm_backward, y, 3, (genc_tensor *[]){x, w, b});
    if (nd) {
        nd->saved = stats;
        nd->iarg[0] = groups;
    }
    return y;
}
