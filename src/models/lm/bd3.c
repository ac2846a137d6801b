/* Block diffusion (BD3-LM, Arriola et al. 2025): autoregressive over blocks of B tokens,
 * masked diffusion inside each block,
 *   log p(x) = Σ_b log p(x^b | x^{<b}),
 * each block term bounded by the MDLM NELBO with its own level t per (sequence, block).
 * B = 1 is autoregressive, B = L is MDLM. Conventions: masked.h. */
#include "masked.h"
#include "genc/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_bd3_train_mask(int L, int blk, uint8_t *mask) {
    int L2 = 2 * L;
    for (int i = 0; i < L2; i++) {
        int qi_noisy = i < L, bi = (i % L) / blk;
        for (int j = 0; j < L2; j++) {
            int kj_noisy = j < L, bj = (j % L) / blk;
            int vis;
            if (qi_noisy) vis = kj_noisy ? bj == bi : bj < bi; /* own noisy block; clean past */
            else vis = !kj_noisy && bj <= bi;                   /* clean: block-causal */
            mask[(size_t)i * L2 + j] = (uint8_t)vis;
        }
    }
}

void genc_bd3_prefix_mask(int T, int off, int blk, uint8_t *mask) {
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) mask[(size_t)i * T + j] = (off + j) / blk <= (off + i) / blk;
}

/* One pass over concat(x_t, x0) [B, 2T]: both halves at positions 0..T−1, the training mask,
 * only the x_t half goes through the head. Returns logits [B·T, V]. */
static genc_tensor *one_pass_logits(genc_ctx *c, genc_lm *lm, const int32_t *x0, const int32_t *xt, int B, int T) {
    int blk = lm->train.block;
    int32_t *ids = genc_scratch(c, sizeof(int32_t) * (size_t)B * 2 * T);
    int *pos = genc_scratch(c, sizeof(int) * (size_t)2 * T);
    uint8_t *mask = genc_scratch(c, (size_t)4 * T * T);
    for (int b = 0; b < B; b++) {
        memcpy(ids + (size_t)b * 2 * T, xt + (size_t)b * T, sizeof(int32_t) * (size_t)T);
        memcpy(ids + (size_t)b * 2 * T + T, x0 + (size_t)b * T, sizeof(int32_t) * (size_t)T);
    }
    for (int i = 0; i < 2 * T; i++) pos[i] = i % T;
    genc_bd3_train_mask(T, blk, mask);
    genc_tf_run run = {0};
    run.bidirectional = 1;
    run.pos = pos;
    run.mask = mask;
    run.cur_len = T;
    run.return_hidden = 1;
    genc_tensor *h = genc_transformer_forward(c, &lm->model, ids, B, 2 * T, &run);
    return genc_lm_head_rows(c, lm, h, B, 2 * T, 0, T);
}

/* Block b alone: [x0 blocks < b | x_t block b] (length (b+1)·blk) with block-causal attention,
 * which gives x_t block b exactly the keys the training mask gives it. Either the loss terms
 * of all blocks, summed (grad path), or the x_t logits copied into out [B·T, V] (no grad). */
static genc_tensor *per_block(genc_ctx *c, genc_lm *lm, const int32_t *x0, const int32_t *xt, const float *w,
                              int B, int T, float *out) {
    int blk = lm->train.block, nb = T / blk, V = lm->model.cfg.vocab;
    genc_tensor *total = NULL;
    for (int k = 0; k < nb; k++) {
        int len = (k + 1) * blk;
        int32_t *ids = genc_scratch(c, sizeof(int32_t) * (size_t)B * len);
        int32_t *x0b = genc_scratch(c, sizeof(int32_t) * (size_t)B * blk);
        int32_t *xtb = genc_scratch(c, sizeof(int32_t) * (size_t)B * blk);
        float *wb = genc_scratch(c, sizeof(float) * (size_t)B * blk);
        for (int b = 0; b < B; b++) {
            const int32_t *r0 = x0 + (size_t)b * T, *rt = xt + (size_t)b * T;
            memcpy(ids + (size_t)b * len, r0, sizeof(int32_t) * (size_t)k * blk);
            memcpy(ids + (size_t)b * len + k * blk, rt + k * blk, sizeof(int32_t) * (size_t)blk);
            memcpy(x0b + (size_t)b * blk, r0 + k * blk, sizeof(int32_t) * (size_t)blk);
            memcpy(xtb + (size_t)b * blk, rt + k * blk, sizeof(int32_t) * (size_t)blk);
            if (w) memcpy(wb + (size_t)b * blk, w + (size_t)b * T + k * blk, sizeof(float) * (size_t)blk);
        }
        genc_tf_run run = {0};
        run.bidirectional = 1;
        run.block = blk;
        run.cur_len = T;
        run.return_hidden = 1;
        genc_tensor *h = genc_transformer_forward(c, &lm->model, ids, B, len, &run);
        genc_tensor *lg = genc_lm_head_rows(c, lm, h, B, len, k * blk, blk);
        if (out) {
            for (int b = 0; b < B; b++)
                memcpy(out + ((size_t)b * T + k * blk) * V, lg->data + (size_t)b * blk * V,
                       sizeof(float) * (size_t)blk * V);
        } else {
            genc_tensor *l = genc_subs_loss(c, lg, x0b, xtb, wb, (float)((int64_t)B * T));
            total = total ? genc_add(c, total, l) : l;
        }
    }
    return total;
}

/* ALiBi and T5 biases are computed from token indices: in concat(x_t, x0) an x_t query would
 * see its clean keys T indices away. Those models take the per-block path. */
static int can_one_pass(const genc_lm *lm) {
    return lm->model.cfg.pos != GENC_POS_ALIBI && lm->model.cfg.pos != GENC_POS_T5;
}

genc_tensor *genc_bd3_loss_given(genc_ctx *c, genc_lm *lm, const int32_t *x0, const int32_t *xt,
                                 const float *w, int B, int T, int one_pass) {
    GENC_ASSERT(T % lm->train.block == 0, "bd3: length %d is not a multiple of the block %d", T, lm->train.block);
    if (!one_pass) return per_block(c, lm, x0, xt, w, B, T, NULL);
    genc_tensor *logits = one_pass_logits(c, lm, x0, xt, B, T);
    return genc_subs_loss(c, logits, x0, xt, w, (float)((int64_t)B * T));
}

/* Training loss: t antithetic over the B·(T/blk) (sequence, block) pairs in the clip schedule
 * (BD3-LM's clipped schedules t ~ U[β, ω]; lo ≥ ε), MDLM masking and 1/t weights inside each
 * block,  L = Σ_{b, i masked} (1/t_{b, block(i)}) · −log p_θ(x0_i | x_t^{block}, x0^{<block}) / (B·T).
 * With blk = T this draws the same noise as genc_mdlm_loss and gives the same number.
 * With blk = 1 every block is one token, masked with probability (1−ε)t and weighted 1/t: in
 * expectation (1−ε) times the autoregressive cross-entropy of a model that reads x0_{<i} and a
 * MASK at i (exactly that cross-entropy when every token is masked with weight 1). */
genc_tensor *genc_bd3_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r) {
    int blk = lm->train.block, nb = T / blk;
    float lo = lm->train.t_lo < GENC_MASK_EPS ? GENC_MASK_EPS : lm->train.t_lo, hi = lm->train.t_hi;
    int64_t n = (int64_t)B * T;
    float *t = genc_scratch(c, sizeof(float) * (size_t)B * nb);
    int32_t *xt = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    float *w = genc_scratch(c, sizeof(float) * (size_t)n);
    float *u = genc_scratch(c, sizeof(float) * (size_t)n);
    genc_antithetic_t(r, B * nb, lo, hi, t);
    genc_mask_tokens(r, GENC_OBJ_BD3, x0, n, blk, t, xt, w, u);
    /* the noise of the whole batch is drawn above; this rank scores its windows (genc/dist.h) */
    int b0, nbat = genc_batch_share(c, B, &b0);
    size_t o = (size_t)b0 * T;
    return genc_bd3_loss_given(c, lm, x0 + o, xt + o, w + o, nbat, T, can_one_pass(lm));
}

/* Negative ELBO per window (nats): Σ over blocks of LLaDA's exact-count estimator inside the
 * block, k ~ U{1..blk} tokens of the block masked, (blk/k) Σ_{masked} −log p_θ. This is each
 * block's continuous-time NELBO (mask rate t ∈ (0,1)) with t integrated out in closed form,
 * so it bounds −log p(x^b | x^{<b}) and has finite variance even for small blocks (where the
 * 1/t estimator's variance diverges logarithmically). blk = 1 gives k = 1 always: exactly the
 * autoregressive negative log-likelihood, with no Monte-Carlo noise. */
void genc_bd3_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo) {
    int blk = lm->train.block, nb = T / blk, V = lm->model.cfg.vocab;
    GENC_ASSERT(T % blk == 0, "bd3: length %d is not a multiple of the block %d", T, blk);
    int64_t n = (int64_t)B * T;
    int prev = genc_no_grad(c);
    int32_t *xt = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    double *scale = genc_scratch(c, sizeof(double) * (size_t)B * nb);
    double *nll = genc_scratch(c, sizeof(double) * (size_t)n);
    int *perm = genc_scratch(c, sizeof(int) * (size_t)blk);
    for (int64_t g = 0; g < (int64_t)B * nb; g++) {
        int k = genc_mask_exact(r, x0 + g * blk, blk, xt + g * blk, perm);
        scale[g] = (double)blk / k;
    }
    const float *logits;
    if (can_one_pass(lm)) {
        logits = one_pass_logits(c, lm, x0, xt, B, T)->data;
    } else {
        float *buf = genc_scratch(c, sizeof(float) * (size_t)n * V);
        per_block(c, lm, x0, xt, NULL, B, T, buf);
        logits = buf;
    }
    genc_subs_nll_rows(logits, n, V, x0, xt, nll);
    genc_masked_nelbo_sum(nll, xt, scale, B, T, blk, 0.0, nelbo);
    genc_restore_grad(c, prev);
}
