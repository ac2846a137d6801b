/* Masked diffusion building blocks: noise levels, the forward (masking) process, the SUBS
 * cross-entropy and its per-row evaluation form. Conventions: masked.h. */
#include "masked.h"

#include <math.h>
#include <stdlib.h>

/* Antithetic levels (Kingma et al., "Variational Diffusion Models", low-discrepancy t):
 * t_i = lo + (hi − lo)·(u + i)/n covers [lo, hi) with one point per stratum. */
void genc_antithetic_t(genc_rng *r, int n, float lo, float hi, float *t) {
    double u = genc_rng_uniform(r);
    for (int i = 0; i < n; i++) t[i] = (float)(lo + (hi - lo) * ((u + i) / n));
}

/* mdlm, bd3: (1−ε)t (α_t = 1 − (1−ε)t);  llada: (1−ε)t + ε */
float genc_mask_rate(genc_lm_objective obj, float t) {
    float p = (1.f - GENC_MASK_EPS) * t;
    return obj == GENC_OBJ_LLADA ? p + GENC_MASK_EPS : p;
}

/* mdlm, bd3: −α'_t/(1 − α_t) = (1−ε)/((1−ε)t) = 1/t;  llada: 1/p */
float genc_mask_weight(genc_lm_objective obj, float t) {
    return obj == GENC_OBJ_LLADA ? 1.f / genc_mask_rate(obj, t) : 1.f / t;
}

int64_t genc_mask_tokens(genc_rng *r, genc_lm_objective obj, const int32_t *x0, int64_t n, int group_len,
                         const float *t, int32_t *xt, float *w, float *u) {
    genc_rng_fill_uniform(r, u, n);
    int64_t masked = 0;
    for (int64_t i = 0; i < n; i++) {
        float tg = t[i / group_len];
        if (u[i] < genc_mask_rate(obj, tg)) {
            xt[i] = GENC_TOK_MASK;
            w[i] = genc_mask_weight(obj, tg);
            masked++;
        } else {
            xt[i] = x0[i];
            w[i] = 0.f;
        }
    }
    return masked;
}

/* l ~ U{1..n}; the first l entries of a partial Fisher–Yates shuffle are masked. */
int genc_mask_exact(genc_rng *r, const int32_t *x0, int n, int32_t *xt, int *perm) {
    int l = 1 + (int)genc_rng_below(r, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        perm[i] = i;
        xt[i] = x0[i];
    }
    for (int i = 0; i < l; i++) {
        int j = i + (int)genc_rng_below(r, (uint32_t)(n - i));
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        xt[perm[i]] = GENC_TOK_MASK;
    }
    return l;
}

/* Masked rows target x0, the others are ignored (−1); the MASK column is pushed to −∞ by a
 * broadcast add, so the cross-entropy is over the V−1 real tokens. */
genc_tensor *genc_subs_loss(genc_ctx *c, genc_tensor *logits, const int32_t *x0, const int32_t *xt,
                            const float *w, float norm) {
    int64_t R = genc_rows(logits);
    int V = genc_dim(logits, -1);
    int32_t *tgt = genc_scratch(c, sizeof(int32_t) * (size_t)R);
    for (int64_t r = 0; r < R; r++) tgt[r] = xt[r] == GENC_TOK_MASK ? x0[r] : -1;
    genc_tensor *bias = genc_zeros(c, 1, (int[]){V});
    bias->data[GENC_TOK_MASK] = -INFINITY;
    genc_tensor *subs = genc_add(c, logits, bias);
    return genc_cross_entropy(c, subs, tgt, -1, 0.f, w, norm);
}

/* −log p = log Σ_{v≠MASK} e^{l_v} − l_{x0}, shifted by the row maximum */
void genc_subs_nll_rows(const float *logits, int64_t R, int V, const int32_t *x0, const int32_t *xt,
                        double *out) {
#pragma omp parallel for schedule(static) if (R * V > 65536)
    for (int64_t r = 0; r < R; r++) {
        if (xt[r] != GENC_TOK_MASK) { out[r] = 0; continue; }
        const float *l = logits + r * V;
        float m = -INFINITY;
        for (int v = 0; v < V; v++)
            if (v != GENC_TOK_MASK && l[v] > m) m = l[v];
        double s = 0;
        for (int v = 0; v < V; v++)
            if (v != GENC_TOK_MASK) s += exp((double)l[v] - m);
        out[r] = m + log(s) - l[x0[r]];
    }
}

void genc_masked_nelbo_sum(const double *nll, const int32_t *xt, const double *scale, int B, int T,
                           int group_len, double add, double *nelbo) {
    int ng = T / group_len;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < T; i++) {
            size_t k = (size_t)b * T + i;
            if (xt[k] == GENC_TOK_MASK) s += scale[(size_t)b * ng + i / group_len] * nll[k];
        }
        nelbo[b] = s + add;
    }
}

double genc_mdlm_prior_nats(int V) { return GENC_MASK_EPS * log((double)(V - 1)); }

/* h [B·S, D] → rows [start, start+len) of each sequence → head → [B·len, V] */
genc_tensor *genc_lm_head_rows(genc_ctx *c, genc_lm *lm, genc_tensor *h, int B, int S, int start, int len) {
    int D = lm->model.cfg.dim;
    if (start == 0 && len == S) return genc_transformer_logits(c, &lm->model, h);
    genc_tensor *h3 = genc_reshape(c, h, 3, (int[]){B, S, D});
    genc_tensor *hs = genc_slice(c, h3, 1, start, len);
    return genc_transformer_logits(c, &lm->model, genc_reshape(c, hs, 2, (int[]){B * len, D}));
}
