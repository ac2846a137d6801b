/* SEDD closed-form checks (no PyTorch):
 *  1. For data drawn from a known product distribution over 3 tokens, the exact score
 *     minimises the expected denoising score entropy: the expectation (enumerated exactly, not
 *     sampled) is stationary there (gradient ~0), every perturbed score does worse, and for
 *     absorbing the minimum equals its closed form σ̄'·r·H(p) per masked position.
 *  2. Tweedie τ-leaping with the exact scores reproduces the exact reverse transition
 *     p_{s|t}(y | x) = p_{t|s}(x|y) p_s(y) / p_t(x) of one position.
 *  3. The Monte-Carlo negative ELBO of a model with constant outputs o ≡ 0 has a known mean.
 *     Its scores (absorbing r/N, uniform 1) are the exact scores of "every state equally
 *     likely", so the bound is tight and equals T·log N per window whatever the window
 *     (absorbing: DSE (1−ε)·log N + prior ε·log N per token; uniform: checked independently by
 *     quadrature of the closed-form E[DSE(σ̄)] below). The estimator's mean over 9600 draws
 *     must match within 4 standard errors (~4%: the MDLM-style 1/t weight makes the per-draw
 *     spread large).
 *  4. The forward corruption has the marginals p_{t|0}; the schedules' derivatives match
 *     finite differences; Monte-Carlo levels estimate the same integral as uniform t; the prior
 *     KL matches a direct sum. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"
#include "models/lm/sedd.h"

enum { V = GENC_VOCAB, N = GENC_SEDD_N, K = 3, L = 3 };
static const int SUPPORT[K] = {'a', 'b', GENC_TOK_EOS};
/* p_i(SUPPORT[k]) for positions i = 0..2 */
static const double PROB[L][K] = {{0.7, 0.2, 0.1}, {0.1, 0.3, 0.6}, {1.0 / 3, 1.0 / 3, 1.0 / 3}};

/* Probability of token v at position i under the data, and after noise σ̄ (uniform graph:
 * p_t = e^{−σ̄} p + (1 − e^{−σ̄})/N). */
static double p_data(int i, int v) {
    for (int k = 0; k < K; k++)
        if (SUPPORT[k] == v) return PROB[i][k];
    return 0;
}

/* The exact log-score table for x_t at position i: row[y] = log p_t(y)/p_t(x_t), returned as a
 * network output (the offset removed). Non-supported tokens get a very negative value. */
static void exact_row(genc_sedd_graph g, int i, int xt, double sig, float *row) {
    double off = genc_sedd_offset(g, sig), a = exp(-sig);
    for (int y = 0; y < V; y++) {
        double l;
        if (g == GENC_SEDD_ABSORB) /* masked x_t: s_y = r·p_i(y), r = 1/(e^σ̄ − 1) */
            l = p_data(i, y) > 0 ? log(p_data(i, y)) - log(expm1(sig)) : -60.0;
        else
            l = log(a * p_data(i, y) + (1 - a) / N) - log(a * p_data(i, xt) + (1 - a) / N);
        row[y] = (float)(l - off);
    }
}

/* The expected DSE at level sig, enumerated exactly: one sequence of length 1 per (position i,
 * clean token x0, noisy token x_t), weighted by p_i(x0)·p_{t|0}(x_t|x0)·σ̄'. The network
 * output of each row is gathered from table[(i, x_t)], so the table's gradient is the
 * expectation's gradient. Returns the loss; fills table->grad. */
typedef struct expect_set {
    int n;
    int32_t *x0, *xt, *row_of;
    float *sigma, *weight;
} expect_set;

static expect_set build(genc_sedd_graph g, double sig, double w) {
    expect_set e = {0};
    int cap = L * K * (N + 1);
    e.x0 = malloc(sizeof(int32_t) * cap);
    e.xt = malloc(sizeof(int32_t) * cap);
    e.row_of = malloc(sizeof(int32_t) * cap);
    e.sigma = malloc(sizeof(float) * cap);
    e.weight = malloc(sizeof(float) * cap);
    double a = exp(-sig);
    for (int i = 0; i < L; i++)
        for (int k = 0; k < K; k++) {
            int x0 = SUPPORT[k];
            if (g == GENC_SEDD_ABSORB) { /* only masked positions carry loss */
                e.x0[e.n] = x0, e.xt[e.n] = GENC_TOK_MASK, e.row_of[e.n] = i;
                e.sigma[e.n] = (float)sig;
                e.weight[e.n++] = (float)(w * PROB[i][k] * (1 - a));
                continue;
            }
            for (int s = 0; s < N; s++) {
                int xt = genc_sedd_state_token(s);
                e.x0[e.n] = x0, e.xt[e.n] = xt, e.row_of[e.n] = i * N + s;
                e.sigma[e.n] = (float)sig;
                e.weight[e.n++] = (float)(w * PROB[i][k] * (a * (xt == x0) + (1 - a) / N));
            }
        }
    return e;
}

static double expected_loss(genc_ctx *c, genc_sedd_graph g, const expect_set *e, genc_tensor *table) {
    genc_ctx_reset(c);
    genc_tensor *out = genc_embedding(c, table, e->row_of, e->n);
    genc_tensor *loss = genc_sedd_dse(c, g, out, e->x0, e->xt, e->sigma, e->weight, e->n, 1, 1.f, NULL);
    double l = loss->data[0];
    memset(table->grad, 0, sizeof(float) * (size_t)table->n);
    genc_backward(c, loss);
    return l;
}

static void exact_score_is_optimal(genc_sedd_graph g, double t) {
    const char *gn = g == GENC_SEDD_ABSORB ? "absorb" : "uniform";
    double sig = genc_sedd_sigma(g, t), w = genc_sedd_dsigma(g, t);
    expect_set e = build(g, sig, w);
    int rows = g == GENC_SEDD_ABSORB ? L : L * N;
    genc_params ps;
    genc_params_init(&ps);
    genc_tensor *table = genc_param_new(&ps, "table", 2, (int[]){rows, V});
    for (int r = 0; r < rows; r++)
        exact_row(g, g == GENC_SEDD_ABSORB ? r : r / N, g == GENC_SEDD_ABSORB ? GENC_TOK_MASK : genc_sedd_state_token(r % N),
                  sig, table->data + (size_t)r * V);
    genc_ctx *c = genc_ctx_new(0);
    double best = expected_loss(c, g, &e, table);
    /* stationarity: only the states that take part in the loss have gradients */
    double gmax = 0;
    for (int64_t j = 0; j < table->n; j++) gmax = fmax(gmax, fabs(table->grad[j]));
    if (g == GENC_SEDD_ABSORB) { /* min = Σ_i P(masked)·σ̄'·r·H(p_i) = Σ_i σ̄' e^{−σ̄} H(p_i) */
        double want = 0;
        for (int i = 0; i < L; i++) {
            double H = 0;
            for (int k = 0; k < K; k++) H -= PROB[i][k] * log(PROB[i][k]);
            want += w * exp(-sig) * H;
        }
        CHECK(fabs(best - want) <= 1e-5 * want, "%s t=%.2f: exact-score loss %.7g = closed form %.7g", gn, t, best, want);
    }
    /* compare with the gradient of a perturbed score (same scale) */
    float *keep = malloc(sizeof(float) * table->n);
    memcpy(keep, table->data, sizeof(float) * table->n);
    genc_rng r = genc_rng_make(11, (uint64_t)g);
    int worse = 0, tries = 20;
    double gpert = 0, min_gap = INFINITY;
    for (int k = 0; k < tries; k++) {
        for (int64_t j = 0; j < table->n; j++) table->data[j] = keep[j] + 0.1f * genc_rng_normal(&r);
        double lk = expected_loss(c, g, &e, table);
        if (k == 0)
            for (int64_t j = 0; j < table->n; j++) gpert = fmax(gpert, fabs(table->grad[j]));
        worse += lk > best;
        min_gap = fmin(min_gap, (lk - best) / best);
    }
    /* a global rescaling of the scores (the classic failure of an unnormalised model) */
    for (int64_t j = 0; j < table->n; j++) table->data[j] = keep[j] + 0.05f;
    double scaled = expected_loss(c, g, &e, table);
    printf("%s t=%.2f: exact %.6g, perturbed worse %d/%d (min rel gap %.3g), scaled +0.05: %.6g; "
           "|grad| exact %.2g vs perturbed %.2g\n", gn, t, best, worse, tries, min_gap, scaled, gmax, gpert);
    CHECK(worse == tries, "%s t=%.2f: every perturbed score has a higher loss (%d/%d)", gn, t, worse, tries);
    CHECK(scaled > best, "%s t=%.2f: rescaled scores have a higher loss", gn, t);
    CHECK(gmax < 1e-4 * gpert, "%s t=%.2f: gradient at the exact score %.3g ≪ %.3g", gn, t, gmax, gpert);
    free(keep);
    genc_ctx_free(c);
    genc_params_free(&ps);
    free(e.x0); free(e.xt); free(e.row_of); free(e.sigma); free(e.weight);
}

/* Tweedie τ-leaping with the exact scores is the exact reverse step of one position. */
static void tweedie_is_exact(genc_sedd_graph g, double t, double s) {
    double st = genc_sedd_sigma(g, t), ss = genc_sedd_sigma(g, s), at = exp(-st), as = exp(-ss), d = st - ss;
    int i = 0, x = g == GENC_SEDD_ABSORB ? GENC_TOK_MASK : 'b';
    float row[V];
    double p[V];
    exact_row(g, i, x, st, row);
    double sum = genc_sedd_step_probs(g, GENC_SEDD_STEP_TWEEDIE, row, V, x, st, d, p);
    double worst = 0;
    for (int y = 0; y < V; y++) {
        double want;
        if (g == GENC_SEDD_ABSORB) { /* masked at t: unmasked y at s, or still masked */
            want = y == GENC_TOK_MASK ? (1 - as) / (1 - at)
                   : genc_sedd_is_state(y) ? p_data(i, y) * as * (1 - exp(-d)) / (1 - at) : 0;
        } else if (!genc_sedd_is_state(y)) {
            want = 0;
        } else {
            double ps_y = as * p_data(i, y) + (1 - as) / N, pt_x = at * p_data(i, x) + (1 - at) / N;
            double trans = exp(-d) * (x == y) + (1 - exp(-d)) / N; /* p_{t|s}(x | y) */
            want = trans * ps_y / pt_x;
        }
        worst = fmax(worst, fabs(p[y] / sum - want));
    }
    CHECK(worst < 1e-6, "%s Tweedie step %.2f → %.2f is the exact reverse transition (max diff %.2g)",
          g == GENC_SEDD_ABSORB ? "absorb" : "uniform", t, s, worst);
}

/* The Monte-Carlo levels estimate the same integral as uniform t: for a smooth test function f
 * that fades like e^{−σ̄} (as the DSE integrand does: the data is gone at high noise),
 * E_u[w·f(σ̄(u))] = E_{t~U[lo,hi]}[σ̄'(t) f(σ̄(t))] (plus ∫_0^{σ_min} f when lo = 0 for the
 * geometric schedule, which starts at σ_min); absorbing draws are exactly t-uniform. */
static double f_test(double s) { return exp(-s) * (1 + sin(3 * s)) / (1 + s); }

static void mc_levels(genc_sedd_graph g) {
    enum { M = 20000, C = 20 };
    double ranges[2][2] = {{0, 1}, {0.2, 0.7}};
    for (int k = 0; k < 2; k++) {
        double lo = ranges[k][0], hi = ranges[k][1], by_u = 0, by_t = 0;
        int exact = 1;
        for (int i = 0; i < M; i++) {
            double u = (i + 0.5) / M, t = lo + (hi - lo) * u, s, w;
            for (int j = 0; j < C; j++) { /* the mixture's coin */
                genc_sedd_mc_level(g, u, (j + 0.5) / C, lo, hi, &s, &w);
                by_u += w * f_test(s) / ((double)M * C);
                if (g == GENC_SEDD_ABSORB)
                    exact &= fabs(s - genc_sedd_sigma(g, t)) < 1e-9 * (1 + s) && fabs(w - genc_sedd_dsigma(g, t)) < 1e-9 * w;
            }
            by_t += genc_sedd_dsigma(g, t) * f_test(genc_sedd_sigma(g, t)) / M;
        }
        if (g == GENC_SEDD_ABSORB) CHECK(exact, "absorbing levels are σ̄(t) with weight σ̄'(t), t ~ U[lo, hi]");
        double s0 = genc_sedd_sigma(g, 0);
        if (lo == 0 && s0 > 0) /* ∫_0^{σ_min} f dσ̄ by the midpoint rule */
            for (int i = 0; i < 1000; i++) by_t += f_test((i + 0.5) * s0 / 1000) * s0 / 1000 / (hi - lo);
        CHECK(fabs(by_u - by_t) < 2e-5 * fabs(by_t), "graph %d [%.1f, %.1f]: E_u[w f] %.8g = E_t[σ̄' f] %.8g", g, lo,
              hi, by_u, by_t);
    }
    double s, w;
    genc_sedd_mc_level(g, 0.0, 0.99, 0.0, 1.0, &s, &w);
    CHECK(s == 0, "graph %d: the full range starts at the data, σ̄ = 0", g);
}

/* E[DSE(σ̄)] per position for s ≡ 1 (uniform graph), with a = e^{−σ̄}, b = (1−a)/N, ρ = b/(a+b):
 * x_t = x0 (prob a+b): (N−1)/N · K1(ρ); x_t ≠ x0 (prob (N−1)b): K1(1/ρ)/N, K1(r) = 1 − r + r log r. */
static double uniform_dse_s1(double sig) {
    double a = exp(-sig), b = -expm1(-sig) / N, rho = b / (a + b);
    double k1 = 1 - rho + rho * log(rho), k2 = 1 - 1 / rho - log(rho) / rho;
    return (a + b) * (N - 1) / N * k1 + (N - 1) * b / N * k2;
}

static void nelbo_of_constant_model(genc_sedd_graph g) {
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 16, cfg.layers = 1, cfg.heads = 2, cfg.causal = 0, cfg.cond = GENC_COND_ADD;
    genc_lm lm;
    memset(&lm, 0, sizeof lm);
    genc_lm_train_cfg_default(&lm.train);
    lm.train.objective = g == GENC_SEDD_ABSORB ? GENC_OBJ_SEDD_ABSORB : GENC_OBJ_SEDD_UNIFORM;
    CHECK(genc_lm_model_init(&lm, &cfg, 1) == GENC_OK, "init");
    genc_param_fill(lm.model.head.W, 0.f); /* o ≡ 0 */
    enum { B = 32, T = 16, CALLS = 300 };
    int32_t x0[B * T];
    genc_rng r = genc_rng_make(4, 4);
    for (int i = 0; i < B * T; i++) x0[i] = genc_sedd_state_token((int)genc_rng_below(&r, N));
    genc_ctx *c = genc_ctx_new(0);
    double out[B], sum = 0, sum2 = 0;
    for (int k = 0; k < CALLS; k++) {
        genc_ctx_reset(c);
        genc_sedd_nelbo(c, &lm, x0, B, T, &r, out);
        for (int b = 0; b < B; b++) sum += out[b], sum2 += out[b] * out[b];
    }
    double n = (double)B * CALLS, mean = sum / n, se = sqrt((sum2 / n - mean * mean) / n), want;
    if (g == GENC_SEDD_ABSORB) {
        want = T * log((double)N);
    } else { /* ∫_0^{σ_max} E[DSE] dσ̄ with σ̄ = e^v (log singularity at 0), Simpson's rule */
        enum { K = 20000 };
        double v0 = log(1e-14), v1 = log(GENC_SEDD_SIGMA_MAX), h = (v1 - v0) / K, acc = 0;
        for (int i = 0; i <= K; i++) {
            double v = v0 + i * h, w = (i == 0 || i == K) ? 1 : (i % 2 ? 4 : 2);
            acc += w * uniform_dse_s1(exp(v)) * exp(v);
        }
        want = T * (acc * h / 3 + genc_sedd_prior_kl(g));
        CHECK(fabs(want - T * log((double)N)) < 1e-6 * want, "uniform, s ≡ 1: the bound integrates to log N per token (%.8f)",
              want / T);
    }
    printf("%s, o = 0: mean negative ELBO %.4f ± %.4f nats per window, expected %.4f (%.4f per token)\n",
           g == GENC_SEDD_ABSORB ? "absorb" : "uniform", mean, se, want, want / T);
    CHECK(fabs(mean - want) < 4 * se, "%s: MC negative ELBO %.4f ± %.4f matches %.4f", g == GENC_SEDD_ABSORB ? "absorb" : "uniform",
          mean, se, want);
    genc_ctx_free(c);
    genc_lm_free(&lm);
}

static void corruption_and_schedules(void) {
    enum { n = 200000 };
    int32_t *x0 = malloc(sizeof(int32_t) * n), *xt = malloc(sizeof(int32_t) * n);
    float *u = malloc(sizeof(float) * 2 * n);
    genc_rng r = genc_rng_make(3, 0);
    genc_rng_fill_uniform(&r, u, 2 * n);
    for (int i = 0; i < n; i++) x0[i] = 'e';
    for (int g = 0; g < 2; g++) {
        double sig = genc_sedd_sigma((genc_sedd_graph)g, 0.4), a = exp(-sig);
        genc_sedd_corrupt((genc_sedd_graph)g, x0, n, sig, u, xt);
        int same = 0, bad = 0;
        for (int i = 0; i < n; i++) {
            same += xt[i] == 'e';
            bad += g == 0 ? !(xt[i] == 'e' || xt[i] == GENC_TOK_MASK) : !genc_sedd_is_state(xt[i]);
        }
        double want = g == 0 ? a : a + (1 - a) / N, se = sqrt(want * (1 - want) / n);
        CHECK(fabs(same / (double)n - want) < 4 * se, "graph %d: P(x_t = x0) %.4f vs %.4f", g, same / (double)n, want);
        CHECK(bad == 0, "graph %d: corrupted tokens are states (or MASK)", g);
        for (double t = 0.05; t < 1; t += 0.3) {
            double h = 1e-6, fd = (genc_sedd_sigma(g, t + h) - genc_sedd_sigma(g, t - h)) / (2 * h);
            CHECK(fabs(fd - genc_sedd_dsigma(g, t)) < 1e-6 * fabs(fd), "graph %d σ̄'(%.2f)", g, t);
        }
        mc_levels((genc_sedd_graph)g);
    }
    /* prior KL by a direct sum over the states */
    double e = GENC_SEDD_EPS, kl = e * log(e / (e / N)) + (1 - e) * log((1 - e) / (1 - e));
    CHECK(fabs(genc_sedd_prior_kl(GENC_SEDD_ABSORB) - kl) < 1e-9, "absorbing prior KL ε log N");
    double a = exp(-GENC_SEDD_SIGMA_MAX), klu = 0;
    for (int s = 0; s < N; s++) {
        double p = (s == 0) * a + (1 - a) / N;
        klu += p * log(p * N);
    }
    CHECK(fabs(genc_sedd_prior_kl(GENC_SEDD_UNIFORM) - klu) < 1e-12 && genc_sedd_prior_kl(GENC_SEDD_UNIFORM) >= 0,
          "uniform prior KL %.3g vs %.3g", genc_sedd_prior_kl(GENC_SEDD_UNIFORM), klu);
    free(x0); free(xt); free(u);
}

int main(void) {
    exact_score_is_optimal(GENC_SEDD_ABSORB, 0.1);
    exact_score_is_optimal(GENC_SEDD_ABSORB, 0.6);
    exact_score_is_optimal(GENC_SEDD_ABSORB, 0.97);
    exact_score_is_optimal(GENC_SEDD_UNIFORM, 0.2);
    exact_score_is_optimal(GENC_SEDD_UNIFORM, 0.7);
    tweedie_is_exact(GENC_SEDD_ABSORB, 0.8, 0.7);
    tweedie_is_exact(GENC_SEDD_ABSORB, 0.3, 0.05);
    tweedie_is_exact(GENC_SEDD_UNIFORM, 0.8, 0.7);
    tweedie_is_exact(GENC_SEDD_UNIFORM, 0.3, 0.05);
    nelbo_of_constant_model(GENC_SEDD_ABSORB);
    nelbo_of_constant_model(GENC_SEDD_UNIFORM);
    corruption_and_schedules();
    return tu_finish();
}
