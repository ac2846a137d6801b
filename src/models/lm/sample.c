/* Autoregressive sampling with a KV cache: the prompt is run once, then one token per pass.
 * Token choice: temperature, top-k, nucleus (top-p), from one uniform draw. */
#include "genc/lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_lm_sample_opts_default(genc_lm_sample_opts *o) {
    memset(o, 0, sizeof *o);
    o->len = 200;
    o->n = 1;
    o->temperature = 0.8f;
    o->top_k = 0;   /* off */
    o->top_p = 1.f; /* off */
    o->seed = 1;
    o->stop_at_eos = 1;
    o->remask = GENC_REMASK_LOW_CONFIDENCE;
    o->sampler = GENC_SAMPLER_DEFAULT;
}

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* scratch: 2·V floats. The MASK and PAD tokens are never sampled by an AR model. */
int32_t genc_sample_logits(const float *logits, int V, float temperature, int top_k, float top_p,
                           float u, float *scratch) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temperature <= 0) return best;
    float *p = scratch, *sorted = scratch + V;
    double mx = logits[best], z = 0;
    for (int i = 0; i < V; i++) {
        p[i] = (float)exp((logits[i] - mx) / temperature);
        z += p[i];
    }
    for (int i = 0; i < V; i++) p[i] = (float)(p[i] / z);
    /* threshold: keep tokens whose probability is at least the k-th largest and within the
     * smallest set whose mass reaches top_p */
    float thresh = 0;
    if ((top_k > 0 && top_k < V) || (top_p > 0 && top_p < 1)) {
        memcpy(sorted, p, sizeof(float) * (size_t)V);
        qsort(sorted, (size_t)V, sizeof(float), cmp_desc);
        int keep = V;
        if (top_k > 0 && top_k < keep) keep = top_k;
        if (top_p > 0 && top_p < 1) {
            double cum = 0;
            for (int i = 0; i < keep; i++) {
                cum += sorted[i];
                if (cum >= top_p) { keep = i + 1; break; }
            }
        }
        thresh = sorted[keep - 1];
    }
    double tot = 0;
    for (int i = 0; i < V; i++)
        if (p[i] >= thresh) tot += p[i];
    double target = u * tot, cum = 0;
    int last = best;
    for (int i = 0; i < V; i++) {
        if (p[i] < thresh) continue;
        cum += p[i];
        last = i;
        if (cum > target) return i;
    }
    return last;
}

static const char *SAMPLER_NAMES[] = {"default", "llada", "ddpm-cache", "first-hitting", "euler", "tau-leaping"};

const char *genc_sampler_name(genc_dsampler s) { return (unsigned)s < 6 ? SAMPLER_NAMES[s] : "?"; }

int genc_sampler_parse(const char *s, genc_dsampler *out) {
    for (int i = 1; i < 6; i++)
        if (strcmp(s, SAMPLER_NAMES[i]) == 0) { *out = (genc_dsampler)i; return GENC_OK; }
    return genc_set_error("unknown sampler '%s' (choose llada, ddpm-cache, first-hitting, euler, tau-leaping)", s);
}

int genc_lm_sample_validate(const genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o) {
    genc_lm_objective obj = lm->train.objective;
    if (o->len < 1) return genc_set_error("--len must be at least 1");
    if (o->n < 1 || o->n > 1024) return genc_set_error("--n must be in [1, 1024]");
    if (!(o->top_p > 0 && o->top_p <= 1)) return genc_set_error("--top-p must be in (0, 1]");
    if (!(o->temperature >= 0)) return genc_set_error("--temperature must be >= 0");
    genc_dsampler s = o->sampler;
    if (obj == GENC_OBJ_AR) {
        if (s != GENC_SAMPLER_DEFAULT)
            return genc_set_error("--sampler %s is for diffusion models; an ar model samples left to right", genc_sampler_name(s));
        if (o->cfg != 0) return genc_set_error("--cfg is for diffusion models");
        /* flags that would be silently ignored are refused: they mean the user expects a
         * diffusion model */
        if (o->steps != 0 || o->block != 0 || o->remask != GENC_REMASK_LOW_CONFIDENCE)
            return genc_set_error("--%s is for diffusion models; an ar model samples left to right, one pass per token",
                                  o->steps ? "steps" : o->block ? "block" : "remask");
        return GENC_OK;
    }
    int sedd = obj == GENC_OBJ_SEDD_ABSORB || obj == GENC_OBJ_SEDD_UNIFORM;
    if (sedd && (s == GENC_SAMPLER_LLADA || s == GENC_SAMPLER_DDPM_CACHE || s == GENC_SAMPLER_FIRST_HITTING))
        return genc_set_error("--sampler %s needs a masked-diffusion model; %s samples with euler or tau-leaping",
                              genc_sampler_name(s), genc_objective_name(obj));
    if (!sedd && (s == GENC_SAMPLER_EULER || s == GENC_SAMPLER_TAU_LEAPING))
        return genc_set_error("--sampler %s is for SEDD models; %s samples with llada, ddpm-cache or first-hitting",
                              genc_sampler_name(s), genc_objective_name(obj));
    if (obj == GENC_OBJ_BD3 && o->block > 0 && o->block != lm->train.block)
        return genc_set_error("--block %d: a bd3 model samples in the blocks it was trained with (%d)", o->block,
                              lm->train.block);
    int block = o->block > 0 ? o->block : (obj == GENC_OBJ_BD3 ? lm->train.block : o->len);
    if (o->len % block)
        return genc_set_error("--len %d must be a multiple of --block %d", o->len, block);
    int nblocks = o->len / block;
    int steps = o->steps > 0 ? o->steps : o->len;
    if (steps % nblocks)
        return genc_set_error("--steps %d must be a multiple of the number of blocks (%d = --len %d / --block %d)",
                              steps, nblocks, o->len, block);
    if (steps / nblocks > block && s != GENC_SAMPLER_DDPM_CACHE && !sedd)
        return genc_set_error("--steps %d gives %d steps per block of %d tokens; use at most one step per token",
                              steps, steps / nblocks, block);
    if (o->cfg != 0 && (!prompt || !prompt[0])) return genc_set_error("--cfg needs a --prompt to guide towards");
    if (o->cfg < 0) return genc_set_error("--cfg must be >= 0");
    return GENC_OK;
}

int genc_lm_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out) {
    if (genc_lm_sample_validate(lm, prompt, o)) return GENC_ERR;
    switch (lm->train.objective) {
    case GENC_OBJ_MDLM:
    case GENC_OBJ_LLADA: return genc_mdlm_sample(lm, prompt, o, out, n_out);
    case GENC_OBJ_BD3: return genc_bd3_sample(lm, prompt, o, out, n_out);
    case GENC_OBJ_SEDD_ABSORB:
    case GENC_OBJ_SEDD_UNIFORM: return genc_sedd_sample(lm, prompt, o, out, n_out);
    default: break;
    }
    const genc_tf_config *cfg = &lm->model.cfg;
    int V = cfg->vocab;
    int plen = (int)strlen(prompt);
    int P = plen + 1; /* BOS + prompt bytes */
    int total = P + o->len;
    if (o->len < 1) return genc_set_error("--len must be at least 1");
    if (o->n < 1 || o->n > 1024) return genc_set_error("--n must be in [1, 1024]");
    if (cfg->pos == GENC_POS_LEARNED && total > cfg->max_pos)
        return genc_set_error("prompt + --len = %d exceeds the learned position table (%d)", total, cfg->max_pos);
    int B = o->n;
    genc_kv_cache kv;
    if (genc_kv_cache_init(&kv, &lm->model, B, total)) return GENC_ERR;
    genc_ctx *c = genc_ctx_new(0);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * P);
    float *scratch = malloc(sizeof(float) * 2 * (size_t)V);
    int *done = calloc((size_t)B, sizeof(int));
    if (!c || !ids || !scratch || !done) {
        genc_kv_cache_free(&kv); genc_ctx_free(c); free(ids); free(scratch); free(done);
        return genc_set_error("out of memory");
    }
    for (int b = 0; b < B; b++) {
        out[b] = malloc(sizeof(int32_t) * (size_t)o->len);
        n_out[b] = 0;
        ids[b * P] = GENC_TOK_BOS;
        for (int i = 0; i < plen; i++) ids[b * P + 1 + i] = (uint8_t)prompt[i];
    }
    genc_rng rng = genc_rng_make(o->seed, 0x73616d70ull); /* "samp" */
    int prev = genc_no_grad(c);
    genc_tf_run run = {0};
    run.cache = &kv;
    int T = P;
    float *lg = malloc(sizeof(float) * (size_t)V);
    for (int step = 0; step < o->len; step++) {
        genc_lm_progress(lm, step, o->len);
        genc_ctx_reset(c);
        genc_tensor *logits = genc_transformer_forward(c, &lm->model, ids, B, T, &run);
        int all_done = 1;
        for (int b = 0; b < B; b++) {
            const float *row = logits->data + ((size_t)b * T + (T - 1)) * V;
            memcpy(lg, row, sizeof(float) * (size_t)V);
            lg[GENC_TOK_MASK] = lg[GENC_TOK_PAD] = lg[GENC_TOK_BOS] = -INFINITY;
            float u = genc_rng_uniform(&rng);
            int32_t tok = genc_sample_logits(lg, V, o->temperature, o->top_k, o->top_p, u, scratch);
            ids[b] = tok; /* next pass feeds one token per row */
            if (!done[b]) {
                if (o->stop_at_eos && tok == GENC_TOK_EOS) done[b] = 1;
                else out[b][n_out[b]++] = tok;
            }
            all_done &= done[b];
        }
        T = 1;
        if (all_done) break;
    }
    genc_restore_grad(c, prev);
    free(lg);
    genc_kv_cache_free(&kv);
    genc_ctx_free(c);
    free(ids);
    free(scratch);
    free(done);
    return GENC_OK;
}
