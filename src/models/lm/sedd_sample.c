/* SEDD samplers: the reverse CTMC from t = 1 down to t = GENC_SEDD_T_END in `steps` equal
 * steps of t (Euler or Tweedie τ-leaping, as in the SEDD paper), then one denoising step to σ̄ = 0 that
 * removes every remaining MASK and is where temperature, top-k and top-p apply.
 *
 * Canvas: [BOS | prompt | len noise tokens] (all MASK for absorbing, uniform states for
 * uniform); BOS and the prompt are clamped, i.e. never updated. Every position is updated
 * independently from one network pass per step, as in SEDD. */
#include "sedd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reverse rates (the forward rates transposed and scaled by the concrete score, in the column
 * convention): x → y at σ(t)·Q(x, y)·s_θ(x)_y, where
 * Q(x, y) is the forward rate y → x. Over a step that lowers σ̄ by Δ:
 *  Euler:   P(y) = Δ·Q(x, y)·s_y for y ≠ x, P(x) = 1 − Σ (clamped at 0).
 *  Tweedie: P(y) ∝ [e^{−ΔQ} s]_y · e^{ΔQ}(x, y)  (exact when the scores are exact and the
 *           positions independent: p_{s|t}(y|x) = p_{t|s}(x|y) p_s(y)/p_t(x), p_s = e^{−ΔQ} p_t).
 *   absorbing at x = MASK: [e^{−ΔQ}s]_y = e^Δ s_y, [e^{−ΔQ}s]_MASK = 1 − (e^Δ − 1)Σ s,
 *     e^{ΔQ}(MASK, y) = 1 − e^{−Δ}, e^{ΔQ}(MASK, MASK) = 1, so
 *     P(y) ∝ (e^Δ − 1) s_y,  P(MASK) ∝ max(0, 1 − (e^Δ − 1) Σ s).
 *   uniform, with S = Σ_y s_y (s_x = 1):
 *     P(y) ∝ max(0, e^Δ s_y − (e^Δ − 1) S/N) · (e^{−Δ}[y = x] + (1 − e^{−Δ})/N).
 *  Denoise: Tweedie with Δ = σ̄ (to the data); absorbing drops MASK: P(y) ∝ s_y. */
double genc_sedd_step_probs(genc_sedd_graph g, genc_sedd_step kind, const float *o, int V, int x,
                            double sigma, double dsig, double *p) {
    const double N = GENC_SEDD_N;
    double off = genc_sedd_offset(g, sigma), tot = 0;
    if (kind == GENC_SEDD_STEP_DENOISE) dsig = sigma;
    for (int y = 0; y < V; y++) p[y] = 0;
#define LOGS(y) fmin((double)o[y] + off, 700.0) /* e^700 still fits a double */
    if (g == GENC_SEDD_ABSORB) {
        if (x != GENC_TOK_MASK) { p[x] = 1; return 1; }
        if (kind == GENC_SEDD_STEP_DENOISE) { /* only the ratios matter: shift by the max */
            double m = -INFINITY;
            for (int y = 0; y < V; y++)
                if (genc_sedd_is_state(y)) m = fmax(m, LOGS(y));
            for (int y = 0; y < V; y++)
                if (genc_sedd_is_state(y)) tot += p[y] = exp(LOGS(y) - m);
            return tot;
        }
        double h = kind == GENC_SEDD_STEP_EULER ? dsig : expm1(dsig);
        for (int y = 0; y < V; y++)
            if (genc_sedd_is_state(y)) tot += p[y] = h * exp(LOGS(y));
        p[GENC_TOK_MASK] = fmax(0.0, 1.0 - tot);
        return tot + p[GENC_TOK_MASK];
    }
    if (kind == GENC_SEDD_STEP_EULER) {
        for (int y = 0; y < V; y++)
            if (genc_sedd_is_state(y) && y != x) tot += p[y] = dsig * exp(LOGS(y)) / N;
        p[x] = fmax(0.0, 1.0 - tot);
        return tot + p[x];
    }
    double S = 1;
    for (int y = 0; y < V; y++)
        if (genc_sedd_is_state(y) && y != x) S += exp(LOGS(y));
    double e = exp(dsig), em1 = expm1(dsig), stay = exp(-dsig), move = -expm1(-dsig) / N;
    for (int y = 0; y < V; y++) {
        if (!genc_sedd_is_state(y)) continue;
        double s = y == x ? 1.0 : exp(LOGS(y)), a = e * s - em1 * S / N;
        if (a > 0) tot += p[y] = a * ((y == x ? stay : 0.0) + move);
    }
#undef LOGS
    return tot;
}

/* The token whose cumulative weight first exceeds u·sum. */
static int32_t pick(const double *p, int V, double sum, float u) {
    double target = u * sum, cum = 0;
    int last = -1;
    for (int y = 0; y < V; y++) {
        if (p[y] <= 0) continue;
        cum += p[y];
        last = y;
        if (cum > target) return y;
    }
    return last;
}

/* Run the sampler into canvas[n · (1 + strlen(prompt) + len)] (BOS, prompt, generated). */
int genc_sedd_sample_canvas(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t *canvas) {
    const genc_tf_config *cfg = &lm->model.cfg;
    if (!prompt) prompt = "";
    genc_sedd_graph g = genc_sedd_graph_of(lm->train.objective);
    if (cfg->cond != GENC_COND_ADD) return genc_set_error("this model has no noise-level input (cond = add): not a SEDD model");
    if (o->cfg != 0) return genc_set_error("--cfg is not available for SEDD models");
    if (o->block > 0 && o->block != o->len)
        return genc_set_error("--block: SEDD samplers update the whole canvas at once; leave --block out");
    if (cfg->vocab <= GENC_TOK_EOS) return genc_set_error("vocabulary %d has no BOS/EOS tokens", cfg->vocab);
    genc_sedd_step kind = o->sampler == GENC_SAMPLER_EULER ? GENC_SEDD_STEP_EULER : GENC_SEDD_STEP_TWEEDIE;
    int V = cfg->vocab, plen = (int)strlen(prompt), P = plen + 1, L = o->len, total = P + L, B = o->n;
    int steps = o->steps > 0 ? o->steps : L;
    if (L < 1 || B < 1) return genc_set_error("--len and --n must be at least 1");
    if (cfg->pos == GENC_POS_LEARNED && total > cfg->max_pos)
        return genc_set_error("prompt + --len = %d exceeds the learned position table (%d)", total, cfg->max_pos);

    /* everything the loop needs, allocated once (the context's arena is reused per step) */
    genc_ctx *c = genc_ctx_new(0);
    int32_t *ids = canvas;
    float *time = malloc(sizeof(float) * (size_t)B), *u = malloc(sizeof(float) * (size_t)B * L);
    float *lg = malloc(sizeof(float) * (size_t)V), *scratch = malloc(sizeof(float) * 2 * (size_t)V);
    double *p = malloc(sizeof(double) * (size_t)V);
    if (!c || !time || !u || !lg || !scratch || !p) {
        genc_ctx_free(c); free(time); free(u); free(lg); free(scratch); free(p);
        return genc_set_error("out of memory");
    }
    genc_rng rng = genc_rng_make(o->seed, 0x73656464ull); /* "sedd" */
    genc_rng_fill_uniform(&rng, u, (int64_t)B * L);
    for (int b = 0; b < B; b++) {
        int32_t *row = ids + (size_t)b * total;
        row[0] = GENC_TOK_BOS;
        for (int i = 0; i < plen; i++) row[1 + i] = (uint8_t)prompt[i];
        for (int i = 0; i < L; i++) {
            int k = (int)(u[b * L + i] * GENC_SEDD_N);
            row[P + i] = g == GENC_SEDD_ABSORB ? GENC_TOK_MASK : genc_sedd_state_token(k < GENC_SEDD_N ? k : GENC_SEDD_N - 1);
        }
    }
    int prev = genc_no_grad(c);
    genc_tf_run run = {0};
    run.bidirectional = 1;
    for (int k = 0; k <= steps; k++) {
        int last = k == steps; /* the denoising step */
        double t = 1.0 - (1.0 - GENC_SEDD_T_END) * k / steps, sig = genc_sedd_sigma(g, t);
        double dsig = last ? sig : sig - genc_sedd_sigma(g, 1.0 - (1.0 - GENC_SEDD_T_END) * (k + 1) / steps);
        genc_lm_progress(lm, k, steps + 1);
        int any = g == GENC_SEDD_UNIFORM;
        for (int i = 0; i < B * total && !any; i++) any = ids[i] == GENC_TOK_MASK;
        if (!any) continue; /* absorbing: nothing left to unmask */
        for (int b = 0; b < B; b++) time[b] = (float)sig;
        genc_ctx_reset(c);
        run.cond = genc_time_embed_m_fwd(c, &lm->time_emb, time, B);
        genc_tensor *logits = genc_transformer_forward(c, &lm->model, ids, B, total, &run);
        genc_rng_fill_uniform(&rng, u, (int64_t)B * L);
        for (int b = 0; b < B; b++)
            for (int i = 0; i < L; i++) {
                int32_t *x = ids + (size_t)b * total + P + i;
                if (g == GENC_SEDD_ABSORB && *x != GENC_TOK_MASK) continue;
                const float *o_row = logits->data + ((size_t)b * total + P + i) * V;
                double sum = genc_sedd_step_probs(g, last ? GENC_SEDD_STEP_DENOISE : kind, o_row, V, *x, sig, dsig, p);
                if (!last) {
                    *x = pick(p, V, sum, u[b * L + i]);
                    continue;
                }
                for (int y = 0; y < V; y++) lg[y] = p[y] > 0 ? (float)log(p[y] / sum) : -INFINITY;
                *x = genc_sample_logits(lg, V, o->temperature, o->top_k, o->top_p, u[b * L + i], scratch);
            }
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    free(time); free(u); free(lg); free(scratch); free(p);
    return GENC_OK;
}

/* genc_lm_sample for SEDD: the generated part of each canvas, cut at the first EOS when
 * o->stop_at_eos. */
int genc_sedd_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out) {
    if (!prompt) prompt = "";
    int B = o->n, L = o->len, total = (int)strlen(prompt) + 1 + L;
    if (L < 1 || B < 1) return genc_set_error("--len and --n must be at least 1");
    int32_t *canvas = malloc(sizeof(int32_t) * (size_t)B * total);
    if (!canvas) return genc_set_error("out of memory");
    if (genc_sedd_sample_canvas(lm, prompt, o, canvas)) { free(canvas); return GENC_ERR; }
    for (int b = 0; b < B; b++) {
        const int32_t *gen = canvas + (size_t)(b + 1) * total - L;
        n_out[b] = 0;
        out[b] = malloc(sizeof(int32_t) * (size_t)L);
        if (!out[b]) {
            for (int j = 0; j < b; j++) { free(out[j]); out[j] = NULL; }
            free(canvas);
            return genc_set_error("out of memory");
        }
        for (int i = 0; i < L; i++) {
            if (o->stop_at_eos && gen[i] == GENC_TOK_EOS) break;
            out[b][n_out[b]++] = gen[i];
        }
    }
    free(canvas);
    return GENC_OK;
}
