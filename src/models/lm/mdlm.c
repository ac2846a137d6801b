/* Masked diffusion language models: MDLM (Sahoo et al. 2024) and LLaDA (Nie et al. 2025).
 * The backbone is the shared transformer with bidirectional attention and no time input: the
 * fraction of MASK tokens tells the network the noise level. Conventions: masked.h. */
#include "masked.h"
#include "genc/dist.h"

#include <math.h>
#include <stdlib.h>

/* Training loss on clean windows x0 [B·T]:
 *   t_b antithetic in the clip schedule [t_lo, t_hi] (lo ≥ ε for mdlm),
 *   x_t: each token masked with probability rate(t_b),
 *   L = Σ_b Σ_{i masked} weight(t_b) · −log p_θ(x0_i | x_t) / (B·T)
 * (MDLM eq. 10 with the log-linear schedule; LLaDA eq. 3). */
genc_tensor *genc_mdlm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r) {
    genc_lm_objective obj = lm->train.objective;
    float lo = lm->train.t_lo, hi = lm->train.t_hi;
    if (obj != GENC_OBJ_LLADA && lo < GENC_MASK_EPS) lo = GENC_MASK_EPS;
    int64_t n = (int64_t)B * T;
    float *t = genc_scratch(c, sizeof(float) * (size_t)B);
    int32_t *xt = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    float *w = genc_scratch(c, sizeof(float) * (size_t)n);
    float *u = genc_scratch(c, sizeof(float) * (size_t)n);
    genc_antithetic_t(r, B, lo, hi, t);
    genc_mask_tokens(r, obj, x0, n, T, t, xt, w, u);
    /* the noise of the whole batch is drawn above; this rank scores its windows (genc/dist.h) */
    int b0, nb = genc_batch_share(c, B, &b0);
    size_t o = (size_t)b0 * T;
    genc_tf_run run = {0};
    run.bidirectional = 1;
    genc_tensor *logits = genc_transformer_forward(c, &lm->model, xt + o, nb, T, &run);
    return genc_subs_loss(c, logits, x0 + o, xt + o, w + o, (float)((int64_t)nb * T));
}

/* One Monte-Carlo sample of the negative ELBO of each window, in nats (no clipping).
 *
 * mdlm: the continuous-time bound of the log-linear schedule (MDLM eq. 10),
 *   NELBO = E_{t~U(0,1)} [ (1/t) Σ_{i masked at rate (1−ε)t} −log p_θ(x0_i | x_t) ] + T·ε·log(V−1)
 * The last term is the prior KL at t = 1 (genc_mdlm_prior_nats): α_1 = ε leaves each token
 * clean with probability ε. t runs over all of (0, 1): cutting the integral at ε would drop a
 * positive part and stop bounding −log p. (Near t = 0 the weight 1/t is large but rarely used:
 * a token is masked there with probability ~t, so the mean stays finite.)
 *
 * llada: LLaDA's estimator (eq. 12), l ~ U{1..T}, exactly l tokens masked,
 *   NELBO = (T/l) Σ_{i masked} −log p_θ(x0_i | x_t)
 * It equals the continuous-time bound with mask rate t integrated out in closed form
 * (∫_0^1 C(T,l) t^{l−1} (1−t)^{T−l} dt = 1/l), so its variance is finite. */
void genc_mdlm_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo) {
    genc_lm_objective obj = lm->train.objective;
    int V = lm->model.cfg.vocab;
    int64_t n = (int64_t)B * T;
    int prev = genc_no_grad(c);
    int32_t *xt = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    double *scale = genc_scratch(c, sizeof(double) * (size_t)B);
    double *nll = genc_scratch(c, sizeof(double) * (size_t)n);
    if (obj == GENC_OBJ_LLADA) {
        int *perm = genc_scratch(c, sizeof(int) * (size_t)T);
        for (int b = 0; b < B; b++) scale[b] = (double)T / genc_mask_exact(r, x0 + (size_t)b * T, T, xt + (size_t)b * T, perm);
    } else {
        float *t = genc_scratch(c, sizeof(float) * (size_t)B);
        float *w = genc_scratch(c, sizeof(float) * (size_t)n);
        float *u = genc_scratch(c, sizeof(float) * (size_t)n);
        genc_antithetic_t(r, B, 0.f, 1.f, t);
        genc_mask_tokens(r, GENC_OBJ_MDLM, x0, n, T, t, xt, w, u);
        for (int b = 0; b < B; b++) scale[b] = 1.0 / t[b]; /* t = 0 masks nothing: never used */
    }
    genc_tf_run run = {0};
    run.bidirectional = 1;
    genc_tensor *logits = genc_transformer_forward(c, &lm->model, xt, B, T, &run);
    genc_subs_nll_rows(logits->data, n, V, x0, xt, nll);
    double prior = obj == GENC_OBJ_LLADA ? 0.0 : T * genc_mdlm_prior_nats(V);
    genc_masked_nelbo_sum(nll, xt, scale, B, T, T, prior, nelbo);
    genc_restore_grad(c, prev);
}
