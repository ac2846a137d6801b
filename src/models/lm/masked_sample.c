/* Sampling from masked diffusion models (mdlm, llada): the canvas [BOS | prompt | MASK × len]
 * is unmasked block by block (semi-autoregressive, LLaDA §2.4), a few tokens per network pass.
 * Samplers: llada (commit the most confident predictions), first-hitting (one uniformly chosen
 * position per step) and ddpm-cache (MDLM's ancestral sampler, which reuses the network output
 * while the canvas is unchanged). The in-block steps are shared with bd3_sample.c. */
#include "masked.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_num_transfer(int M, int steps, int *k) {
    for (int i = 0; i < steps; i++) k[i] = M / steps + (i < M % steps);
}

int genc_denoiser_init(genc_denoiser *d, const genc_lm_sample_opts *o, int V, int max_len) {
    memset(d, 0, sizeof *d);
    d->o = o;
    d->kind = o->sampler == GENC_SAMPLER_DEFAULT ? GENC_SAMPLER_LLADA : o->sampler;
    d->V = V;
    d->max_len = max_len;
    d->rng = genc_rng_make(o->seed, 0x6d61736bull); /* "mask" */
    d->row = malloc(sizeof(float) * (size_t)V);
    d->scratch = malloc(sizeof(float) * 2 * (size_t)V);
    d->conf = malloc(sizeof(float) * (size_t)max_len);
    d->pred = malloc(sizeof(int32_t) * (size_t)max_len);
    if (!d->row || !d->scratch || !d->conf || !d->pred) {
        genc_denoiser_free(d);
        return genc_set_error("out of memory");
    }
    return GENC_OK;
}

void genc_denoiser_free(genc_denoiser *d) {
    free(d->row);
    free(d->scratch);
    free(d->conf);
    free(d->pred);
    memset(d, 0, sizeof *d);
}

/* A token for one position. MASK (SUBS) and PAD (never in the data) are excluded. τ = 0:
 * argmax; top-k/top-p: genc_sample_logits; else Gumbel-max, argmax_v l_v/τ − log(−log u_v),
 * a draw from softmax(l/τ). *conf (when asked) is the untempered probability of the token. */
static int32_t pick(genc_denoiser *d, const float *logits, float *conf) {
    const genc_lm_sample_opts *o = d->o;
    int V = d->V;
    float *l = d->row;
    memcpy(l, logits, sizeof(float) * (size_t)V);
    l[GENC_TOK_MASK] = l[GENC_TOK_PAD] = -INFINITY;
    int32_t tok = 0;
    if (o->temperature <= 0) {
        for (int v = 1; v < V; v++)
            if (l[v] > l[tok]) tok = v;
    } else if (o->top_k > 0 || o->top_p < 1) {
        tok = genc_sample_logits(l, V, o->temperature, o->top_k, o->top_p, genc_rng_uniform(&d->rng), d->scratch);
    } else {
        float *u = d->scratch;
        genc_rng_fill_uniform(&d->rng, u, V);
        float best = -INFINITY, inv = 1.f / o->temperature;
        for (int v = 0; v < V; v++) {
            float g = l[v] * inv - logf(-logf(u[v]));
            if (g > best) { best = g; tok = v; }
        }
    }
    if (conf) {
        float m = -INFINITY;
        for (int v = 0; v < V; v++) m = l[v] > m ? l[v] : m;
        double s = 0;
        for (int v = 0; v < V; v++) s += exp((double)l[v] - m);
        *conf = (float)(exp((double)l[tok] - m) / s);
    }
    return tok;
}

int genc_denoise_step(genc_denoiser *d, int32_t *ids, const float *logits, int len, int k) {
    int V = d->V, masked = 0;
    for (int i = 0; i < len; i++) masked += ids[i] == GENC_TOK_MASK;
    if (k > masked) k = masked;
    if (k <= 0) return 0;
    if (d->kind == GENC_SAMPLER_FIRST_HITTING) {
        /* the next position to unmask is uniform over the masked ones (Zheng et al. 2024) */
        for (int j = 0; j < k; j++) {
            int r = (int)genc_rng_below(&d->rng, (uint32_t)(masked - j)), i = 0;
            for (;; i++)
                if (ids[i] == GENC_TOK_MASK && r-- == 0) break;
            ids[i] = pick(d, logits + (size_t)i * V, NULL);
        }
        return k;
    }
    int lowconf = d->o->remask == GENC_REMASK_LOW_CONFIDENCE;
    for (int i = 0; i < len; i++) {
        if (ids[i] != GENC_TOK_MASK) { d->conf[i] = -INFINITY; continue; }
        float p;
        d->pred[i] = pick(d, logits + (size_t)i * V, &p);
        d->conf[i] = lowconf ? p : genc_rng_uniform(&d->rng);
    }
    /* commit the k most confident (ties: the leftmost) */
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < len; i++)
            if (ids[i] == GENC_TOK_MASK && (best < 0 || d->conf[i] > d->conf[best])) best = i;
        ids[best] = d->pred[best];
    }
    return k;
}

/* MDLM's reverse step for the log-linear schedule (α = 1 − t): from t to s, a masked token
 * stays masked with probability (1 − α_s)/(1 − α_t) = s/t, else becomes v with probability
 * ∝ p_θ(v)·(t − s). */
int genc_denoise_ddpm(genc_denoiser *d, int32_t *ids, const float *logits, int len, float t, float s) {
    int n = 0;
    float stay = t > 0 ? s / t : 0.f;
    for (int i = 0; i < len; i++) {
        if (ids[i] != GENC_TOK_MASK) continue;
        if (genc_rng_uniform(&d->rng) < stay) continue;
        ids[i] = pick(d, logits + (size_t)i * d->V, NULL);
        n++;
    }
    return n;
}

int genc_canvas_extract(const int32_t *canvas, int n, int N, int P, int len, int stop_at_eos, int32_t **out,
                        int *n_out) {
    for (int b = 0; b < n; b++) out[b] = NULL;
    for (int b = 0; b < n; b++) {
        out[b] = malloc(sizeof(int32_t) * (size_t)(len > 0 ? len : 1));
        if (!out[b]) {
            for (int k = 0; k < b; k++) { free(out[k]); out[k] = NULL; }
            return genc_set_error("out of memory");
        }
        int m = 0;
        for (int i = P; i < N && m < len; i++) {
            int32_t tok = canvas[(size_t)b * N + i];
            if (tok == GENC_TOK_MASK || (stop_at_eos && tok == GENC_TOK_EOS)) break;
            out[b][m++] = tok;
        }
        n_out[b] = m;
    }
    return GENC_OK;
}

int genc_denoise_block(genc_denoiser *d, int32_t *canvas, int n, int N, int lo, int len, const float *logits,
                       int st, int spb, const int *sched) {
    int committed = 0;
    for (int b = 0; b < n; b++) {
        int32_t *ids = canvas + (size_t)b * N + lo;
        const float *lgb = logits + (size_t)b * len * d->V;
        if (d->kind == GENC_SAMPLER_DDPM_CACHE)
            committed += genc_denoise_ddpm(d, ids, lgb, len, 1.f - (float)st / spb, 1.f - (float)(st + 1) / spb);
        else
            committed += genc_denoise_step(d, ids, lgb, len, sched[st]);
    }
    return committed;
}

/* LLaDA's classifier-free guidance (Nie et al. 2025, eq. 16): u + (w + 1)(c − u) */
void genc_cfg_combine(const float *cond, const float *uncond, int64_t n, float w, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = uncond[i] + (w + 1.f) * (cond[i] - uncond[i]);
}

/* ---------------------------------------------------------------- mdlm / llada sampler */

int genc_mdlm_sample_ex(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out,
                        int *n_out, const genc_msample_trace *tr) {
    if (genc_lm_sample_validate(lm, prompt, o)) return GENC_ERR;
    const genc_tf_config *cfg = &lm->model.cfg;
    int V = cfg->vocab, plen = (int)strlen(prompt), P = plen + 1, len = o->len, N = P + len;
    if (cfg->pos == GENC_POS_LEARNED && N > cfg->max_pos)
        return genc_set_error("prompt + --len = %d exceeds the learned position table (%d)", N, cfg->max_pos);
    int n = o->n, guided = o->cfg > 0, rows = guided ? 2 * n : n;
    int Lb = o->block > 0 ? o->block : len, nblk = len / Lb;
    int spb = (o->steps > 0 ? o->steps : len) / nblk;
    genc_denoiser d;
    if (genc_denoiser_init(&d, o, V, Lb)) return GENC_ERR;
    genc_ctx *c = genc_ctx_new(0);
    int32_t *canvas = malloc(sizeof(int32_t) * (size_t)rows * N);
    float *comb = malloc(sizeof(float) * (size_t)n * Lb * V);
    int *sched = malloc(sizeof(int) * (size_t)spb);
    for (int b = 0; b < n; b++) out[b] = NULL;
    int rc = GENC_ERR;
    if (!c || !canvas || !comb || !sched) { genc_set_error("out of memory"); goto done; }
    for (int b = 0; b < rows; b++) {
        int32_t *row = canvas + (size_t)b * N;
        row[0] = GENC_TOK_BOS;
        /* unconditional rows (cfg): the prompt is masked, BOS kept */
        for (int i = 0; i < plen; i++) row[1 + i] = b < n ? (uint8_t)prompt[i] : GENC_TOK_MASK;
        for (int i = P; i < N; i++) row[i] = GENC_TOK_MASK;
    }
    int prev = genc_no_grad(c);
    genc_tf_run run = {0};
    run.bidirectional = 1;
    run.return_hidden = 1;
    run.cur_len = N;
    for (int k = 0; k < nblk; k++) {
        int lo = P + k * Lb, dirty = 1;
        genc_num_transfer(Lb, spb, sched);
        for (int st = 0; st < spb; st++) {
            int forwarded = 0;
            if (dirty) {
                genc_ctx_reset(c);
                for (int b = 0; guided && b < n; b++) /* the unconditional rows follow the generation */
                    memcpy(canvas + (size_t)(n + b) * N + P, canvas + (size_t)b * N + P, sizeof(int32_t) * (size_t)len);
                genc_tensor *h = genc_transformer_forward(c, &lm->model, canvas, rows, N, &run);
                genc_tensor *lg = genc_lm_head_rows(c, lm, h, rows, N, lo, Lb);
                int64_t m = (int64_t)n * Lb * V;
                if (guided) genc_cfg_combine(lg->data, lg->data + m, m, o->cfg, comb);
                else memcpy(comb, lg->data, sizeof(float) * (size_t)m);
                dirty = 0;
                forwarded = 1;
            }
            int committed = genc_denoise_block(&d, canvas, n, N, lo, Lb, comb, st, spb, sched);
            genc_lm_progress(lm, (int64_t)k * spb + st + 1, (int64_t)nblk * spb);
            if (committed) dirty = 1;
            if (tr && tr->fn) {
                genc_msample_event e = {k, st, canvas, n, N, P, lo, Lb, comb, V, committed, forwarded};
                tr->fn(tr->user, &e);
            }
        }
        if (o->stop_at_eos) { /* later blocks are not needed once every sample has ended */
            int all = 1;
            for (int b = 0; b < n && all; b++) {
                int has = 0;
                for (int i = P; i < lo + Lb && !has; i++) has = canvas[(size_t)b * N + i] == GENC_TOK_EOS;
                all = has;
            }
            if (all) break;
        }
    }
    genc_restore_grad(c, prev);
    if (genc_canvas_extract(canvas, n, N, P, len, o->stop_at_eos, out, n_out)) goto done;
    rc = GENC_OK;
done:
    if (rc != GENC_OK)
        for (int b = 0; b < n; b++) { free(out[b]); out[b] = NULL; }
    genc_denoiser_free(&d);
    genc_ctx_free(c);
    free(canvas);
    free(comb);
    free(sched);
    return rc;
}

int genc_mdlm_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out) {
    return genc_mdlm_sample_ex(lm, prompt, o, out, n_out, NULL);
}
