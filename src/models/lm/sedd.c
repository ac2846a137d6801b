/* Score-entropy discrete diffusion: noise schedules, the forward corruption, the denoising
 * score entropy loss (a fused op with its backward), the training loss and the Monte-Carlo
 * negative ELBO. Conventions (states, rates, parameterisation): sedd.h. */
#include "sedd.h"
#include "genc/dist.h"

#include <math.h>
#include <string.h>

#define PAR_MIN 64 /* rows: below this the loss runs on one thread */

genc_sedd_graph genc_sedd_graph_of(genc_lm_objective o) {
    return o == GENC_OBJ_SEDD_UNIFORM ? GENC_SEDD_UNIFORM : GENC_SEDD_ABSORB;
}

/* ---------------------------------------------------------------- noise */

/* absorbing, log-linear: σ̄ = −log(1 − (1−ε)t), σ̄' = (1−ε)/(1 − (1−ε)t)  (SEDD, MDLM)
 * uniform, geometric:    σ̄ = σ_min^{1−t} σ_max^t, σ̄' = σ̄ ln(σ_max/σ_min)  (SEDD) */
double genc_sedd_sigma(genc_sedd_graph g, double t) {
    if (g == GENC_SEDD_ABSORB) return -log1p(-(1.0 - GENC_SEDD_EPS) * t);
    return pow(GENC_SEDD_SIGMA_MIN, 1.0 - t) * pow(GENC_SEDD_SIGMA_MAX, t);
}

double genc_sedd_dsigma(genc_sedd_graph g, double t) {
    if (g == GENC_SEDD_ABSORB) return (1.0 - GENC_SEDD_EPS) / (1.0 - (1.0 - GENC_SEDD_EPS) * t);
    return genc_sedd_sigma(g, t) * log(GENC_SEDD_SIGMA_MAX / GENC_SEDD_SIGMA_MIN);
}

/* Monte-Carlo levels. Every objective here is an integral over the level, ∫ E[DSE(σ̄)] dσ̄
 * (per unit of t: E_t[σ̄'(t)·DSE]); it does not depend on how σ̄ is parameterised, only the
 * variance of its estimate does. Levels are drawn from a mixture, with the importance weight
 * 1/density:
 *  - with probability 1 − λ, uniform in the corruption probability m = 1 − e^{−σ̄}: density
 *    e^{−σ̄}/(m_hi − m_lo). For a unigram-level model of Zipf-like tokens the integrand is
 *    then nearly flat (per-draw standard deviation 1.1 nats/token), whereas uniform t on the
 *    geometric schedule puts most draws where it is ~0 (~90% of the integral lies in
 *    t ∈ [0.5, 0.9]; standard deviation 5.4);
 *  - with probability λ = 1/4, t ~ U[lo, hi] on the schedule: density 1/(σ̄'(t)(hi − lo)). This
 *    keeps training at the high levels (σ̄ up to σ_max = 20) that the samplers visit, which
 *    uniform m almost never draws (P(σ̄ > 8) = e^{−8}), and it bounds the weights, so a model
 *    that is poor at high noise cannot hide there behind rare draws with huge weights.
 * For absorbing both are the log-linear schedule (m = (1−ε)t), so the draw is t ~ U[lo, hi]
 * with weight σ̄'(t), exactly as MDLM. The range is [σ̄(lo), σ̄(hi)], except that lo = 0 means
 * the clean data: σ̄ from 0 (the geometric schedule starts at σ_min > 0, but a bound on
 * −log p(x0) must integrate from the data; only the m component reaches [0, σ_min]).
 * The weight is divided by hi − lo so that a clipped range gives the average over it,
 * E_{t~U[lo,hi]}[σ̄'(t)·DSE], as with clipped MDLM/BD3 schedules. u picks the level within
 * the component and coin the component. */
#define MIX_T 0.25 /* λ */
void genc_sedd_mc_level(genc_sedd_graph g, double u, double coin, double lo, double hi, double *sigma,
                        double *weight) {
    double s_lo = lo > 0 ? genc_sedd_sigma(g, lo) : 0.0, s_hi = genc_sedd_sigma(g, hi);
    double s_tlo = genc_sedd_sigma(g, lo); /* where the t component starts */
    double m_lo = -expm1(-s_lo), m_hi = -expm1(-s_hi), s;
    if (coin < MIX_T) s = genc_sedd_sigma(g, lo + u * (hi - lo));
    else s = -log1p(-(m_lo + u * (m_hi - m_lo)));
    double dens = (1.0 - MIX_T) * exp(-s) / (m_hi - m_lo); /* over σ̄ */
    if (s >= s_tlo) { /* t(σ̄), the schedule inverted */
        double t = g == GENC_SEDD_ABSORB ? -expm1(-s) / (1.0 - GENC_SEDD_EPS)
                                         : log(s / GENC_SEDD_SIGMA_MIN) / log(GENC_SEDD_SIGMA_MAX / GENC_SEDD_SIGMA_MIN);
        dens += MIX_T / (genc_sedd_dsigma(g, t) * (hi - lo));
    }
    *sigma = s;
    *weight = 1.0 / (dens * (hi - lo));
}

/* KL(p_{1|0} ‖ p_base) per position, with a = e^{−σ̄(1)} the chance that x0 survives.
 * absorbing: p_{1|0} = a at x0, 1−a at MASK. The base must cover x0 for the bound to be
 *   finite, so it is (1−ε)·δ_MASK + ε·uniform over the N states (ε = the schedule's ε):
 *   KL = a log(aN/ε) + (1−a) log((1−a)/(1−ε)) = ε log N, since a = ε.
 *   (The samplers start from all MASK, the ε → 0 limit of this base.)
 * uniform: p_{1|0} = aδ + (1−a)/N against the uniform base:
 *   KL = (a + (1−a)/N) log(1 + a(N−1)) + (N−1)(1−a)/N · log(1−a)   (≈ a²N/2, tiny). */
double genc_sedd_prior_kl(genc_sedd_graph g) {
    const double N = GENC_SEDD_N;
    double s1 = genc_sedd_sigma(g, 1.0);
    double a = exp(-s1), na = -expm1(-s1); /* a and 1 − a */
    if (g == GENC_SEDD_ABSORB)
        return a * log(a * N / GENC_SEDD_EPS) + na * (log(na) - log1p(-GENC_SEDD_EPS));
    return (a + na / N) * log1p(a * (N - 1)) + (N - 1) * na / N * log1p(-a);
}

/* log r = −log(e^σ̄ − 1) (absorbing ratio of a masked position); offset = log r − log N. */
double genc_sedd_offset(genc_sedd_graph g, double sigma) {
    if (g == GENC_SEDD_UNIFORM) return 0.0;
    return -log(expm1(sigma)) - log((double)GENC_SEDD_N);
}

void genc_sedd_corrupt(genc_sedd_graph g, const int32_t *x0, int n, double sigma, const float *u, int32_t *xt) {
    double p = -expm1(-sigma); /* 1 − e^{−σ̄} */
    for (int i = 0; i < n; i++) {
        xt[i] = x0[i];
        if (u[2 * i] < p) {
            if (g == GENC_SEDD_ABSORB) xt[i] = GENC_TOK_MASK;
            else {
                int k = (int)(u[2 * i + 1] * GENC_SEDD_N);
                xt[i] = genc_sedd_state_token(k < GENC_SEDD_N ? k : GENC_SEDD_N - 1);
            }
        }
    }
}

/* ---------------------------------------------------------------- denoising score entropy */

/* One term of the sum, s − r log s + K(r), with ℓ = log s and δ = ℓ − log r:
 *   s − rℓ + r log r − r = s − r(1 + δ) = r (e^δ − 1 − δ)   (≥ 0, 0 at s = r; SEDD's Bregman form)
 * and s alone when r = 0 (K(0) = 0). Computed in double from s = e^ℓ: its absolute error is a
 * few ulp of max(s, r|δ|, r). d/dℓ = s − r. */
static inline double dse_term(double s, double l, double r, double logr) { return r == 0 ? s : s - r * (1.0 + l - logr); }

/* The ratios of one position. Every y ≠ x_t that can jump to x_t has r_y = r_hit when
 * y = x0 and r_other otherwise; q is the forward rate y → x_t.
 * absorbing, x_t = MASK: q = 1, r_hit = e^{−σ̄}/(1 − e^{−σ̄}) = 1/(e^σ̄ − 1), r_other = 0.
 * uniform: q = 1/N; with a = e^{−σ̄}, b = (1−a)/N, p_{t|0}(y|x0) = a·[y = x0] + b, so
 *   x_t = x0: every y has r = b/(a+b);  x_t ≠ x0: r_hit = (a+b)/b, r_other = b/b = 1. */
typedef struct pos_ratios { double q, r_hit, r_other, log_hit, log_other; int active; } pos_ratios;

static pos_ratios ratios(genc_sedd_graph g, int x0, int xt, double sigma) {
    pos_ratios p = {0};
    if (g == GENC_SEDD_ABSORB) {
        if (xt != GENC_TOK_MASK) return p; /* nothing jumps into an unmasked token */
        p.active = 1;
        p.q = 1;
        p.log_hit = -log(expm1(sigma));
        p.r_hit = exp(p.log_hit);
        return p;
    }
    const double N = GENC_SEDD_N;
    double log_b = log(-expm1(-sigma)) - log(N), log_ab = log(exp(-sigma) + exp(log_b));
    p.active = 1;
    p.q = 1.0 / N;
    if (xt == x0) {
        p.log_hit = p.log_other = log_b - log_ab;
    } else {
        p.log_hit = log_ab - log_b;
        p.log_other = 0;
    }
    p.r_hit = exp(p.log_hit);
    p.r_other = exp(p.log_other);
    return p;
}

/* dL/do_y = grad · weight_b/norm · q · (s_y − r_y) for every state y ≠ x_t, with the scores
 * s_y saved by the forward pass (0 where no term was taken). */
static void dse_backward(genc_ctx *c, genc_node *nd) {
    genc_tensor *out = nd->in[0];
    genc_sedd_graph g = (genc_sedd_graph)nd->iarg[0];
    int T = (int)nd->iarg[1], V = genc_dim(out, -1);
    int64_t R = genc_rows(out);
    const int32_t *x0 = nd->parg[0], *xt = nd->parg[1];
    const float *sigma = nd->parg[2], *weight = nd->parg[3], *S = nd->saved;
    double scale = (double)nd->out->grad[0] / nd->farg[0];
    float *G = genc_grad(c, out);
#pragma omp parallel for schedule(static) if (R > PAR_MIN)
    for (int64_t i = 0; i < R; i++) {
        int b = (int)(i / T);
        pos_ratios p = ratios(g, x0[i], xt[i], sigma[b]);
        if (!p.active) continue;
        double k = scale * weight[b] * p.q;
        const float *s = S + i * V;
        float *gr = G + i * V;
        for (int y = 0; y < V; y++) {
            if (!genc_sedd_is_state(y) || y == xt[i]) continue;
            gr[y] += (float)(k * (s[y] - (y == x0[i] ? p.r_hit : p.r_other)));
        }
    }
}

genc_tensor *genc_sedd_dse(genc_ctx *c, genc_sedd_graph g, genc_tensor *out, const int32_t *x0,
                           const int32_t *xt, const float *sigma, const float *weight, int B, int T,
                           float norm, double *per_seq) {
    int V = genc_dim(out, -1);
    int64_t R = genc_rows(out);
    GENC_ASSERT(R == (int64_t)B * T, "sedd_dse: %lld rows for B·T = %d", (long long)R, B * T);
    GENC_ASSERT(V > GENC_TOK_EOS, "sedd_dse: vocabulary %d has no BOS/EOS", V);
    double *row = genc_scratch(c, sizeof(double) * (size_t)R);
    int keep = c->grad_enabled && out->requires_grad; /* scores for backward */
    float *S = keep ? genc_scratch(c, sizeof(float) * (size_t)R * V) : NULL;
#pragma omp parallel for schedule(static) if (R > PAR_MIN)
    for (int64_t i = 0; i < R; i++) {
        int b = (int)(i / T);
        pos_ratios p = ratios(g, x0[i], xt[i], sigma[b]);
        row[i] = 0;
        if (!p.active) continue;
        double off = genc_sedd_offset(g, sigma[b]), acc = 0;
        const float *o = out->data + i * V;
        float *si = keep ? S + i * V : NULL;
        for (int y = 0; y < V; y++) {
            if (!genc_sedd_is_state(y) || y == xt[i]) continue;
            double l = o[y] + off, s = exp(l);
            if (si) si[y] = (float)s;
            acc += y == x0[i] ? dse_term(s, l, p.r_hit, p.log_hit) : dse_term(s, l, p.r_other, p.log_other);
        }
        row[i] = weight[b] * p.q * acc;
    }
    double total = 0;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int i = 0; i < T; i++) s += row[(int64_t)b * T + i];
        if (per_seq) per_seq[b] = s;
        total += s;
    }
    genc_tensor *loss = genc_new1(c, 1);
    loss->data[0] = (float)(total / norm);
    genc_node *nd = genc_record(c, dse_backward, loss, 1, &out);
    if (nd) {
        nd->iarg[0] = g;
        nd->iarg[1] = T;
        nd->parg[0] = x0;
        nd->parg[1] = xt;
        nd->parg[2] = sigma;
        nd->parg[3] = weight;
        nd->farg[0] = norm;
        nd->saved = S;
    }
    return loss;
}

/* ---------------------------------------------------------------- loss and ELBO */

/* One Monte-Carlo draw per sequence: levels antithetic across the batch (u_b = frac((u + b)/B),
 * one u per batch, as in MDLM; an independent coin per sequence for the mixture component) through
 * genc_sedd_mc_level on [lo, hi], x_t ~ p_{t|0}(·|x0),
 * one network pass, and the weighted DSE normalised by the B·T positions. */
static genc_tensor *dse_sample(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r,
                               double lo, double hi, double *per_seq) {
    GENC_ASSERT(lm->model.cfg.cond == GENC_COND_ADD, "SEDD models condition on the noise level (cond = add)");
    genc_sedd_graph g = genc_sedd_graph_of(lm->train.objective);
    int n = B * T;
    float *sigma = genc_scratch(c, sizeof(float) * (size_t)B), *weight = genc_scratch(c, sizeof(float) * (size_t)B);
    float *u = genc_scratch(c, sizeof(float) * 2 * (size_t)n);
    int32_t *xt = genc_scratch(c, sizeof(int32_t) * (size_t)n), *x0c = genc_scratch(c, sizeof(int32_t) * (size_t)n);
    memcpy(x0c, x0, sizeof(int32_t) * (size_t)n); /* the op keeps x0 until backward */
    float *coin = genc_scratch(c, sizeof(float) * (size_t)B);
    double u0 = genc_rng_uniform(r);
    genc_rng_fill_uniform(r, coin, B);
    genc_rng_fill_uniform(r, u, 2 * (int64_t)n);
    for (int b = 0; b < B; b++) {
        double s, w;
        genc_sedd_mc_level(g, fmod((u0 + b) / B, 1.0), coin[b], lo, hi, &s, &w);
        sigma[b] = (float)s;
        weight[b] = (float)w;
        genc_sedd_corrupt(g, x0 + (size_t)b * T, T, sigma[b], u + 2 * (size_t)b * T, xt + (size_t)b * T);
    }
    /* the noise of the whole batch is drawn above; this rank scores its windows (genc/dist.h;
     * per_seq, the evaluation's, is never shared) */
    int b0 = 0, nb = per_seq ? B : genc_batch_share(c, B, &b0);
    size_t o = (size_t)b0 * T;
    genc_tf_run run = {0};
    run.bidirectional = 1;
    run.cond = genc_time_embed_m_fwd(c, &lm->time_emb, sigma + b0, nb);
    genc_tensor *out = genc_transformer_forward(c, &lm->model, xt + o, nb, T, &run);
    return genc_sedd_dse(c, g, out, x0c + o, xt + o, sigma + b0, weight + b0, nb, T, (float)((int64_t)nb * T), per_seq);
}

/* Training loss: E_{t~U[t_lo,t_hi]}[σ̄'(t) Σ_i DSE_i] / (B·T), estimated with one level and one
 * x_t per sequence. */
genc_tensor *genc_sedd_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r) {
    return dse_sample(c, lm, x0, B, T, r, lm->train.t_lo, lm->train.t_hi, NULL);
}

/* Negative ELBO of each window (SEDD Thm 3.6, the continuous-time bound):
 *   −log p_θ(x0) ≤ ∫_0^{σ̄(1)} E_{x_t ~ p_{t|0}(·|x0)} Σ_i DSE_i(x_t, σ̄) dσ̄ + Σ_i KL(p_{1|0}(·|x0_i) ‖ p_base)
 * where p_θ is the reverse CTMC with the learned rates started from p_base (the samplers
 * discretise it). One Monte-Carlo sample: one level from genc_sedd_mc_level on the full range
 * (from σ̄ = 0, nothing clipped; antithetic across the windows, each draw still from the
 * proposal) and one x_t, so the integral is estimated without bias and the estimate is an
 * upper bound in expectation; the prior term is exact. Nats per window, not normalised. */
void genc_sedd_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo) {
    int prev = genc_no_grad(c);
    dse_sample(c, lm, x0, B, T, r, 0.0, 1.0, nelbo);
    genc_restore_grad(c, prev);
    double kl = T * genc_sedd_prior_kl(genc_sedd_graph_of(lm->train.objective));
    for (int b = 0; b < B; b++) nelbo[b] += kl;
}
