/* Masked and block diffusion internals shared by mdlm.c, bd3.c and the samplers, exposed to the
 * tests so each piece can be fed fixed inputs (docs/masked-diffusion.md).
 *
 * Conventions (one place for all of them):
 *  - ε = GENC_MASK_EPS = 1e-3.
 *  - mdlm and bd3, log-linear schedule α_t = 1 − (1−ε)t: a token is masked with probability
 *    (1−ε)t and a masked token's cross-entropy is weighted by −α'_t/(1−α_t) = 1/t (MDLM).
 *  - llada: masked with probability p = (1−ε)t + ε, weight 1/p (LLaDA's pretraining loss).
 *  - t is antithetic across the n draws of one call: t_i = lo + (hi − lo)(u + i)/n with one
 *    u ~ U[0,1). Training uses the clip schedule [t_lo, t_hi]; for mdlm and bd3 lo is raised to
 *    ε (as MDLM's sampling_eps) so that no weight exceeds 1/ε.
 *  - SUBS parameterisation: the MASK logit is −∞ and unmasked positions are not scored.
 *  - Losses are Σ weight · cross-entropy over masked positions divided by the number of real
 *    token positions B·T (never by the number masked). */
#ifndef GENC_LM_MASKED_H
#define GENC_LM_MASKED_H

#include "genc/lm.h"

#define GENC_MASK_EPS 1e-3f

/* ---------------------------------------------------------------- noise (masked.c) */
/* t[i] = lo + (hi − lo)·(u + i)/n, one uniform u drawn from r. */
void genc_antithetic_t(genc_rng *r, int n, float lo, float hi, float *t);
/* Probability that a token is masked at level t, and the loss weight of a masked token. */
float genc_mask_rate(genc_lm_objective obj, float t);
float genc_mask_weight(genc_lm_objective obj, float t);
/* Forward process on n tokens cut into groups of group_len, group g at level t[g]: xt[i] =
 * MASK when u_i < genc_mask_rate(t[g]) (u_i from one genc_rng_fill_uniform of n values into
 * the scratch u[n]), else x0[i]. w[i] = genc_mask_weight(t[g]) at masked tokens, 0 elsewhere.
 * Returns the number masked. */
int64_t genc_mask_tokens(genc_rng *r, genc_lm_objective obj, const int32_t *x0, int64_t n, int group_len,
                         const float *t, int32_t *xt, float *w, float *u);
/* LLaDA's likelihood noise on one group of n tokens: l ~ U{1..n}, exactly l positions chosen
 * uniformly without replacement (partial Fisher–Yates over perm[n]) are masked. Returns l. */
int genc_mask_exact(genc_rng *r, const int32_t *x0, int n, int32_t *xt, int *perm);

/* ---------------------------------------------------------------- SUBS loss (masked.c) */
/* loss = Σ_{r: xt_r = MASK} w_r · (−log softmax'(logits_r)[x0_r]) / norm, where softmax' is the
 * softmax with the MASK logit set to −∞ (by adding a constant row that is −∞ at MASK: the
 * gradient then flows to every other logit and is exactly 0 at MASK). logits [R, V]; x0, xt,
 * w [R] must stay alive until backward (arena memory). */
genc_tensor *genc_subs_loss(genc_ctx *c, genc_tensor *logits, const int32_t *x0, const int32_t *xt,
                            const float *w, float norm);
/* The same per-row term without weights or grad: out[r] = −log softmax'(logits_r)[x0_r] at
 * masked rows, 0 elsewhere (double: evaluation sums thousands of them). */
void genc_subs_nll_rows(const float *logits, int64_t R, int V, const int32_t *x0, const int32_t *xt,
                        double *out);
/* Negative ELBO of each of B windows of T tokens from per-row nll (genc_subs_nll_rows) and one
 * scale per group of group_len tokens: nelbo[b] = Σ_{i masked} scale[group(b, i)]·nll[b, i] + add.
 * mdlm: group T, scale 1/t, add T·prior; llada: group T, scale T/l; bd3: group blk, scale blk/k. */
void genc_masked_nelbo_sum(const double *nll, const int32_t *xt, const double *scale, int B, int T,
                           int group_len, double add, double *nelbo);
/* Prior term of the log-linear NELBO at t = 1: with α_1 = ε each token is still clean with
 * probability ε, and the prior "MASK with probability 1−ε, else uniform over the V−1 other
 * tokens" costs KL = ε·log(V−1) nats per token. */
double genc_mdlm_prior_nats(int V);

/* Rows [start, start + len) of each of the B sequences of hidden states h [B·S, D] through the
 * output head: logits [B·len, V] (the samplers and BD3 score only part of each pass). */
genc_tensor *genc_lm_head_rows(genc_ctx *c, genc_lm *lm, genc_tensor *h, int B, int S, int start, int len);

/* ---------------------------------------------------------------- block diffusion (bd3.c) */
/* Training mask [2L, 2L] over concat(x_t, x0) with blocks of blk tokens (BD3-LM):
 *   x_t block b sees x_t block b and x0 blocks < b; x0 block b sees x0 blocks ≤ b. */
void genc_bd3_train_mask(int L, int blk, uint8_t *mask);
/* Block-causal mask [T, T] in position space: token i at position off + i sees token j when
 * (off + j)/blk ≤ (off + i)/blk (the sampler's prefix pass and its no-cache reference). */
void genc_bd3_prefix_mask(int T, int off, int blk, uint8_t *mask);
/* The BD3 loss given the noise: x0, xt, w [B·T] (w per token as genc_mask_tokens makes it).
 * one_pass = 1: one forward pass over concat(xt, x0) with the training mask; 0: one pass per
 * block over [x0 blocks < b | xt block b] (the reference the one-pass form must equal; also
 * used for ALiBi and T5 models, whose biases are functions of the index, not the position). */
genc_tensor *genc_bd3_loss_given(genc_ctx *c, genc_lm *lm, const int32_t *x0, const int32_t *xt,
                                 const float *w, int B, int T, int one_pass);

/* ---------------------------------------------------------------- sampling (masked_sample.c) */
/* Tokens committed at each of s steps of a block with M masks: M/s, plus one for the first
 * M mod s steps (LLaDA's get_num_transfer_tokens). */
void genc_num_transfer(int M, int steps, int *k);

/* What a sampler did in one step, for tests (canvas rows are the n conditional samples). */
typedef struct genc_msample_event {
    int block, step;          /* block index; step inside the block */
    const int32_t *canvas;    /* [n, N]: BOS, prompt, generated tokens (MASK where not yet) */
    int n, N;
    int gen_lo;               /* index of the first generated token (1 + prompt length) */
    int blk_lo, blk_len;      /* the current block: canvas indices [blk_lo, blk_lo + blk_len) */
    const float *logits;      /* [n, blk_len, V]: the (guided) logits the step used */
    int V;
    int committed;            /* tokens unmasked in this step, over all samples */
    int forwarded;            /* 1 when this step ran the network (ddpm-cache reuses) */
} genc_msample_event;

typedef struct genc_msample_trace {
    void (*fn)(void *user, const genc_msample_event *e);
    void *user;
    int no_cache;             /* bd3: recompute the whole prefix every pass instead of the cache */
} genc_msample_trace;

int genc_mdlm_sample_ex(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out,
                        int *n_out, const genc_msample_trace *tr);
int genc_bd3_sample_ex(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out,
                       int *n_out, const genc_msample_trace *tr);

/* In-block denoising shared by the mdlm and bd3 samplers. One instance per sampling call: the
 * scratch buffers are sized once (no allocation inside the step loop). */
typedef struct genc_denoiser {
    const genc_lm_sample_opts *o;
    genc_dsampler kind;       /* llada, ddpm-cache or first-hitting (default resolved) */
    int V, max_len;
    genc_rng rng;
    float *row, *scratch;     /* [V], [2V] */
    float *conf;              /* [max_len] */
    int32_t *pred;            /* [max_len] */
} genc_denoiser;

int genc_denoiser_init(genc_denoiser *d, const genc_lm_sample_opts *o, int V, int max_len);
void genc_denoiser_free(genc_denoiser *d);
/* One llada / first-hitting step on one sequence's block ids[len] with its logits [len, V]:
 * unmask k of the masked positions. llada: predict every masked position (Gumbel-max of
 * logits/τ, or top-k/top-p sampling), confidence = softmax probability of the prediction
 * (low-confidence remasking) or a uniform draw (random), commit the k most confident.
 * first-hitting: choose k masked positions uniformly, then sample their tokens. Returns the
 * number unmasked. */
int genc_denoise_step(genc_denoiser *d, int32_t *ids, const float *logits, int len, int k);
/* One ddpm-cache step from level t to s < t: each masked position stays masked with
 * probability s/t, else takes a token sampled from the prediction. Returns the number
 * unmasked. */
int genc_denoise_ddpm(genc_denoiser *d, int32_t *ids, const float *logits, int len, float t, float s);
/* Step st of spb in a block [lo, lo+len) of n canvases (row stride N) with their logits
 * [n, len, V]: the sampler's step (ddpm-cache on the even grid 1 → 0, else k = sched[st]
 * tokens) on every sequence. Returns the number of tokens unmasked in all. */
int genc_denoise_block(genc_denoiser *d, int32_t *canvas, int n, int N, int lo, int len, const float *logits,
                       int st, int spb, const int *sched);
/* Copy the generated part [P, N) of each of n canvases into a new out[b] (at most len tokens),
 * ending at the first MASK, or the first EOS when stop_at_eos. GENC_ERR when out of memory
 * (then every out[b] is freed and NULL). */
int genc_canvas_extract(const int32_t *canvas, int n, int N, int P, int len, int stop_at_eos, int32_t **out,
                        int *n_out);
/* Classifier-free guidance on n·len rows: out = u + (w + 1)(c − u). */
void genc_cfg_combine(const float *cond, const float *uncond, int64_t n, float w, float *out);

#endif
