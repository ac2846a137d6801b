/* Score-entropy discrete diffusion (SEDD, Lou, Meng & Ermon 2024): internals shared by
 * sedd.c (noise, loss, ELBO), sedd_sample.c (reverse-process samplers) and the tests.
 * Math and conventions: docs/language-models.md, "SEDD conventions".
 *
 * Conventions (documented here once):
 *  - States. The diffusion moves among the N = 258 tokens a corpus can hold: the 256 bytes,
 *    BOS and EOS (PAD never occurs in the data and is not a state). Absorbing adds MASK as the
 *    (N+1)-th state. Network outputs for tokens that are not states are ignored.
 *  - Rates. Q_t = σ(t)·Q, σ = dσ̄/dt, with "Q(x, y)" the rate of the jump y → x (SEDD's
 *    column convention, dp/dt = Qp). Absorbing: y → MASK at rate 1. Uniform: Q = 11ᵀ/N − I
 *    over the N states, i.e. y → x at rate 1/N for every x ≠ y.
 *  - Noise. Absorbing: log-linear σ̄(t) = −log(1 − (1−ε)t), ε = 1e-3, so a token is masked
 *    with probability 1 − e^{−σ̄} = (1−ε)t. Uniform: geometric σ̄(t) = σ_min^{1−t} σ_max^t.
 *  - Network. It sees x_t and the level σ̄(t): lm->time_emb embeds σ̄ (sinusoidal features, as
 *    in SEDD, then an MLP) and the backbone adds that vector to every token (genc_tf_run.cond,
 *    cond = add). Its output o[y] gives the log-score
 *    ℓ_y = log s_θ(x_t)_y ≈ log p_t(x_t with y here)/p_t(x_t) through ℓ_y = o[y] + c(σ̄):
 *    absorbing uses SEDD's scaling c = log r − log N, r = 1/(e^σ̄ − 1), so that an untrained
 *    network (o ≈ 0) already has Σ_y s_y = r, the exact total; uniform uses c = 0. The score of
 *    y = x_t itself is 1 by definition (never learned).
 *  - Monte-Carlo levels for the loss and the ELBO: a mixture of t-uniform and uniform-in-
 *    corruption-probability draws with importance weights (genc_sedd_mc_level in sedd.c); for
 *    absorbing this is exactly t ~ U[lo, hi] with weight σ̄'(t).
 *  - Base distribution at t = 1: uniform over the states (uniform); (1−ε)·MASK + ε·uniform
 *    (absorbing, so that the prior KL is finite: ε log N per position). The absorbing samplers
 *    start from all MASK, the ε → 0 limit. */
#ifndef GENC_LM_SEDD_H
#define GENC_LM_SEDD_H

#include "genc/lm.h"

#define GENC_SEDD_N 258            /* diffusion states besides MASK */
#define GENC_SEDD_EPS 1e-3         /* log-linear schedule: p_mask(1) = 1 − ε */
#define GENC_SEDD_SIGMA_MIN 1e-4   /* geometric schedule */
#define GENC_SEDD_SIGMA_MAX 20.0
#define GENC_SEDD_T_END 1e-3       /* samplers integrate t from 1 down to this, then denoise */

typedef enum genc_sedd_graph { GENC_SEDD_ABSORB = 0, GENC_SEDD_UNIFORM = 1 } genc_sedd_graph;

/* The sampler step kinds of genc_sedd_step_probs. */
typedef enum genc_sedd_step {
    GENC_SEDD_STEP_EULER = 0,   /* first-order step of the reverse CTMC */
    GENC_SEDD_STEP_TWEEDIE,     /* Tweedie τ-leaping (exact for one position, given the scores) */
    GENC_SEDD_STEP_DENOISE,     /* Tweedie step to σ̄ = 0; absorbing: MASK is not an outcome */
} genc_sedd_step;

/* 1 for the N diffusion states: bytes, BOS, EOS. */
static inline int genc_sedd_is_state(int v) { return (v >= 0 && v < 256) || v == GENC_TOK_BOS || v == GENC_TOK_EOS; }
/* The token of state i in 0..N−1 (bytes, then BOS, EOS). */
static inline int genc_sedd_state_token(int i) { return i < 256 ? i : GENC_TOK_BOS + (i - 256); }

genc_sedd_graph genc_sedd_graph_of(genc_lm_objective o);

/* σ̄(t) and σ(t) = σ̄'(t) of the training/sampling schedule. */
double genc_sedd_sigma(genc_sedd_graph g, double t);
double genc_sedd_dsigma(genc_sedd_graph g, double t);
/* A Monte-Carlo level for u, coin ∈ [0, 1) on the t-range [lo, hi]: sigma and the weight such
 * that E_{u,coin}[weight·f(sigma)] = E_{t~U[lo,hi]}[σ̄'(t) f(σ̄(t))] (lo = 0: from σ̄ = 0).
 * See sedd.c. */
void genc_sedd_mc_level(genc_sedd_graph g, double u, double coin, double lo, double hi, double *sigma,
                        double *weight);
/* KL(p_{1|0}(·|x0) ‖ p_base) per position, nats (the same for every x0). */
double genc_sedd_prior_kl(genc_sedd_graph g);
/* c(σ̄): the log-score is the network output plus this. */
double genc_sedd_offset(genc_sedd_graph g, double sigma);

/* Forward corruption x0 → x_t ~ p_{t|0} at level sigma, from 2n uniforms u in [0, 1):
 * absorbing: MASK with probability 1 − e^{−σ̄}; uniform: with probability 1 − e^{−σ̄} a state
 * drawn uniformly (possibly x0 again), so p_{t|0} = e^{−σ̄}δ + (1 − e^{−σ̄})/N. */
void genc_sedd_corrupt(genc_sedd_graph g, const int32_t *x0, int n, double sigma, const float *u, int32_t *xt);

/* Denoising score entropy (fused op). out[B·T, V] network outputs; x0, xt [B·T]; sigma[B] the
 * level of each sequence and weight[B] the factor that multiplies its positions (the
 * Monte-Carlo weight of the level, σ̄'(t) for a uniform t). Returns the scalar
 *   Σ_{b,i} weight_b · DSE(b,i) / norm,
 *   DSE = Σ_{y≠x_t} Q(x_t, y) [ s_y − r_y log s_y + K(r_y) ],  r_y = p_{t|0}(y|x0)/p_{t|0}(x_t|x0),
 * and, when per_seq is not NULL, per_seq[b] = Σ_i weight_b·DSE(b,i) (not divided by norm).
 * The arrays must stay alive until backward. */
genc_tensor *genc_sedd_dse(genc_ctx *c, genc_sedd_graph g, genc_tensor *out, const int32_t *x0,
                           const int32_t *xt, const float *sigma, const float *weight, int B, int T,
                           float norm, double *per_seq);

/* Transition probabilities of one reverse step at one position from level sigma to
 * sigma − dsig, given that position's network output row o[V] and current token x.
 * p[V] receives unnormalised non-negative weights (0 for tokens that cannot be reached);
 * returns their sum. */
double genc_sedd_step_probs(genc_sedd_graph g, genc_sedd_step kind, const float *o, int V, int x,
                            double sigma, double dsig, double *p);

/* The sampler behind genc_sedd_sample, writing whole canvases: canvas[n · (1 + strlen(prompt)
 * + len)], each BOS, the prompt bytes, then the len generated tokens (for tests). */
int genc_sedd_sample_canvas(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t *canvas);

#endif
