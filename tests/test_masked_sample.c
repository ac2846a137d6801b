/* Samplers of masked and block diffusion models, on small random models:
 *  - BD3's KV cache is exact: every denoising pass gives the same logits as recomputing the
 *    whole prefix (and so the same samples), for aligned and unaligned prompts, every in-block
 *    sampler, guidance, and rotary, learned, ALiBi and T5 positions;
 *  - the LLaDA schedule unmasks exactly M//s + (i < M%s) tokens per sample at step i of a block,
 *    so exactly len tokens in all; a semi-autoregressive block never touches a later block, an
 *    earlier block, the prompt, or a token already decoded (mdlm and bd3, llada and
 *    first-hitting); ddpm-cache finishes every block and reuses the network output when a step
 *    changed nothing;
 *  - stopping at EOS: a model that always says EOS returns nothing and stops after one block;
 *  - argument errors: block sizes other than the bd3 model's, and validation messages. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "masked_testlm.h"
#include "models/lm/masked.h"

static void make_lm(genc_lm *lm, genc_lm_objective obj, genc_pos pos, int blk, uint64_t seed) {
    make_test_lm(lm, obj, pos, blk, 0, 64, 0.2f, seed);
}

static genc_lm_sample_opts opts(int len, int n, int steps, int block, genc_dsampler s) {
    genc_lm_sample_opts o = {len, n, 1.0f, 0, 1.0f, 7, 0, steps, block, GENC_REMASK_LOW_CONFIDENCE, 0.f, s};
    return o;
}

static void free_out(int32_t **out, int n) {
    for (int i = 0; i < n; i++) free(out[i]);
}

/* ---------------------------------------------------------------- KV cache exactness */
typedef struct rec {
    float *v;
    size_t n, cap;
} rec;

static void record(void *user, const genc_msample_event *e) {
    rec *r = user;
    size_t m = (size_t)e->n * e->blk_len * e->V;
    if (r->n + m > r->cap) {
        r->cap = (r->n + m) * 2;
        r->v = realloc(r->v, sizeof(float) * r->cap);
    }
    memcpy(r->v + r->n, e->logits, sizeof(float) * m);
    r->n += m;
}

static void check_cache(genc_pos pos, const char *prompt, genc_lm_sample_opts o, const char *label) {
    genc_lm lm;
    make_lm(&lm, GENC_OBJ_BD3, pos, 4, 21);
    rec a = {0}, b = {0};
    int32_t *oa[4], *ob[4];
    int na[4], nb[4];
    genc_msample_trace ta = {record, &a, 0}, tb = {record, &b, 1};
    int ra = genc_bd3_sample_ex(&lm, prompt, &o, oa, na, &ta);
    int rb = genc_bd3_sample_ex(&lm, prompt, &o, ob, nb, &tb);
    CHECK(ra == GENC_OK && rb == GENC_OK, "bd3 sampling ran (%s)", ra || rb ? genc_error() : "ok");
    if (ra || rb) return;
    char what[160];
    snprintf(what, sizeof what, "bd3 KV-cache logits = recomputed logits (%s, prompt \"%s\", %s)", genc_pos_name(pos),
             prompt, label);
    CHECK(a.n == b.n && a.n > 0, "%s: %zu vs %zu logits", what, a.n, b.n);
    if (a.n == b.n) tu_close(what, a.v, b.v, (int64_t)a.n, 1e-5f, 1e-4f);
    int same = 1;
    for (int i = 0; i < o.n; i++) same &= na[i] == nb[i] && memcmp(oa[i], ob[i], sizeof(int32_t) * na[i]) == 0;
    CHECK(same, "%s: same samples", what);
    free_out(oa, o.n);
    free_out(ob, o.n);
    free(a.v);
    free(b.v);
    genc_lm_free(&lm);
}

/* ---------------------------------------------------------------- schedule and blocks */
typedef struct sched_check {
    genc_dsampler kind;
    int32_t *snap; /* canvas after the previous step */
    int sched[64], spb, ok_count, ok_region, ok_reuse, steps_seen, prev_committed, prev_block;
} sched_check;

static void on_step(void *user, const genc_msample_event *e) {
    sched_check *s = user;
    int N = e->N, lo = e->blk_lo, hi = e->blk_lo + e->blk_len;
    if (e->step == 0) genc_num_transfer(e->blk_len, s->spb, s->sched);
    for (int b = 0; b < e->n; b++) {
        const int32_t *now = e->canvas + (size_t)b * N, *was = s->snap + (size_t)b * N;
        int added = 0;
        for (int i = 0; i < N; i++) {
            int in_block = i >= lo && i < hi;
            if (!in_block && now[i] != was[i]) s->ok_region = 0;           /* outside the block: untouched */
            if (i >= hi && now[i] != GENC_TOK_MASK) s->ok_region = 0;      /* later blocks still masked */
            if (was[i] != GENC_TOK_MASK && now[i] != was[i]) s->ok_region = 0; /* decoded tokens stay */
            if (in_block && was[i] == GENC_TOK_MASK && now[i] != GENC_TOK_MASK) added++;
        }
        if (s->kind != GENC_SAMPLER_DDPM_CACHE && added != s->sched[e->step]) s->ok_count = 0;
        if (s->kind == GENC_SAMPLER_DDPM_CACHE && e->step == s->spb - 1)
            for (int i = lo; i < hi; i++) s->ok_count &= now[i] != GENC_TOK_MASK; /* s = 0 ends the block */
    }
    /* ddpm-cache: a step after one that changed nothing in the same block reuses the output */
    if (e->step > 0 && e->block == s->prev_block && s->prev_committed == 0 && e->forwarded) s->ok_reuse = 0;
    if (e->step == 0 && !e->forwarded) s->ok_reuse = 0;
    s->prev_committed = e->committed;
    s->prev_block = e->block;
    memcpy(s->snap, e->canvas, sizeof(int32_t) * (size_t)e->n * N);
    s->steps_seen++;
}

static void check_schedule(genc_lm_objective obj, genc_dsampler kind, int len, int block, int steps, const char *prompt) {
    genc_lm lm;
    make_lm(&lm, obj, GENC_POS_ROPE, block, 31);
    genc_lm_sample_opts o = opts(len, 3, steps, obj == GENC_OBJ_BD3 ? 0 : block, kind);
    o.remask = obj == GENC_OBJ_LLADA ? GENC_REMASK_RANDOM : GENC_REMASK_LOW_CONFIDENCE;
    int P = 1 + (int)strlen(prompt), N = P + len;
    sched_check s = {kind, malloc(sizeof(int32_t) * 3 * N), {0}, steps / (len / block), 1, 1, 1, 0, 1, -1};
    for (int b = 0; b < 3; b++) { /* the canvas before the first step */
        s.snap[b * N] = GENC_TOK_BOS;
        for (int i = 1; i < P; i++) s.snap[b * N + i] = (uint8_t)prompt[i - 1];
        for (int i = P; i < N; i++) s.snap[b * N + i] = GENC_TOK_MASK;
    }
    int32_t *out[3];
    int n_out[3];
    genc_msample_trace tr = {on_step, &s, 0};
    int rc = obj == GENC_OBJ_BD3 ? genc_bd3_sample_ex(&lm, prompt, &o, out, n_out, &tr)
                                 : genc_mdlm_sample_ex(&lm, prompt, &o, out, n_out, &tr);
    CHECK(rc == GENC_OK, "sampling: %s", rc ? genc_error() : "ok");
    if (rc) return;
    char what[160];
    snprintf(what, sizeof what, "%s %s len %d block %d steps %d prompt \"%s\"", genc_objective_name(obj),
             genc_sampler_name(kind), len, block, steps, prompt);
    int full = 1;
    for (int b = 0; b < 3; b++) {
        full &= n_out[b] == len;
        for (int i = 0; i < n_out[b]; i++) full &= out[b][i] != GENC_TOK_MASK && out[b][i] != GENC_TOK_PAD;
    }
    CHECK(s.steps_seen == steps, "%s: %d steps run", what, s.steps_seen);
    CHECK(s.ok_count, "%s: tokens unmasked per step follow the schedule", what);
    CHECK(s.ok_region, "%s: only masked tokens of the current block change", what);
    CHECK(full, "%s: exactly len tokens, none of them MASK", what);
    if (kind == GENC_SAMPLER_DDPM_CACHE) CHECK(s.ok_reuse, "%s: unchanged canvases reuse the network output", what);
    free_out(out, 3);
    free(s.snap);
    genc_lm_free(&lm);
}

/* ---------------------------------------------------------------- guidance */
/* Each step's logits, recomputed here from the canvas before the step: one pass over the
 * samples, one over the same canvases with the prompt masked, u + (w + 1)(c − u). */
typedef struct cfg_check {
    genc_lm *lm;
    float w;
    int plen;
    int32_t *snap;
    float worst;
    int checked;
} cfg_check;

static void on_cfg_step(void *user, const genc_msample_event *e) {
    cfg_check *s = user;
    int n = e->n, N = e->N, V = e->V, L = e->blk_len;
    if (e->forwarded) {
        genc_ctx *c = genc_ctx_new(0);
        genc_no_grad(c);
        int32_t *unc = malloc(sizeof(int32_t) * (size_t)n * N);
        memcpy(unc, s->snap, sizeof(int32_t) * (size_t)n * N);
        for (int b = 0; b < n; b++)
            for (int i = 1; i <= s->plen; i++) unc[b * N + i] = GENC_TOK_MASK;
        genc_tf_run run = {0};
        run.bidirectional = 1;
        float *cl = genc_transformer_forward(c, &s->lm->model, s->snap, n, N, &run)->data;
        float *ul = genc_transformer_forward(c, &s->lm->model, unc, n, N, &run)->data;
        for (int b = 0; b < n; b++)
            for (int j = 0; j < L; j++)
                for (int v = 0; v < V; v++) {
                    size_t r = ((size_t)b * N + e->blk_lo + j) * V + v;
                    float want = ul[r] + (s->w + 1.f) * (cl[r] - ul[r]);
                    float got = e->logits[((size_t)b * L + j) * V + v];
                    float d = fabsf(got - want) / (1e-4f + 1e-4f * fabsf(want));
                    if (!(d <= s->worst)) s->worst = d;
                }
        s->checked++;
        free(unc);
        genc_ctx_free(c);
    }
    memcpy(s->snap, e->canvas, sizeof(int32_t) * (size_t)n * N);
}

static void check_cfg(genc_dsampler kind) {
    genc_lm lm;
    make_lm(&lm, GENC_OBJ_LLADA, GENC_POS_ROPE, 4, 61);
    const char *prompt = "Once";
    genc_lm_sample_opts o = opts(12, 2, kind == GENC_SAMPLER_DDPM_CACHE ? 18 : 6, 4, kind);
    o.cfg = 2.f;
    int P = 5, N = P + 12;
    cfg_check s = {&lm, 2.f, 4, malloc(sizeof(int32_t) * 2 * N), 0, 0};
    for (int b = 0; b < 2; b++) {
        s.snap[b * N] = GENC_TOK_BOS;
        for (int i = 1; i < P; i++) s.snap[b * N + i] = (uint8_t)prompt[i - 1];
        for (int i = P; i < N; i++) s.snap[b * N + i] = GENC_TOK_MASK;
    }
    int32_t *out[2];
    int n_out[2];
    genc_msample_trace tr = {on_cfg_step, &s, 0};
    int rc = genc_mdlm_sample_ex(&lm, prompt, &o, out, n_out, &tr);
    CHECK(rc == GENC_OK && s.checked > 0 && s.worst <= 1.f,
          "llada %s cfg: guided logits u + (w+1)(c - u) over %d passes (worst %.3g of 1e-4 + 1e-4 rel)",
          genc_sampler_name(kind), s.checked, s.worst);
    if (!rc) free_out(out, 2);
    free(s.snap);
    genc_lm_free(&lm);
}

/* ---------------------------------------------------------------- EOS */
static void count_blocks(void *user, const genc_msample_event *e) {
    int *m = user;
    if (e->block + 1 > *m) *m = e->block + 1;
}

static void check_eos(genc_lm_objective obj) {
    genc_lm lm;
    make_lm(&lm, obj, GENC_POS_ROPE, 4, 41);
    /* final hidden state = ln_f bias (ln_f weight 0); the head maps it to EOS only */
    int D = lm.model.cfg.dim;
    memset(lm.model.ln_f.w->data, 0, sizeof(float) * D);
    memset(lm.model.head.W->data, 0, sizeof(float) * lm.model.head.W->n);
    for (int d = 0; d < D; d++) {
        lm.model.ln_f.b->data[d] = 1.f;
        lm.model.head.W->data[(size_t)GENC_TOK_EOS * D + d] = 1.f; /* EOS logit 32, others 0 */
    }
    genc_lm_sample_opts o = opts(16, 2, 16, obj == GENC_OBJ_BD3 ? 0 : 4, GENC_SAMPLER_LLADA);
    o.stop_at_eos = 1;
    int32_t *out[2];
    int n_out[2], blocks = 0;
    genc_msample_trace tr = {count_blocks, &blocks, 0};
    int rc = obj == GENC_OBJ_BD3 ? genc_bd3_sample_ex(&lm, "x", &o, out, n_out, &tr)
                                 : genc_mdlm_sample_ex(&lm, "x", &o, out, n_out, &tr);
    CHECK(rc == GENC_OK && n_out[0] == 0 && n_out[1] == 0 && blocks == 1,
          "%s: stop at EOS: %d and %d tokens returned after %d blocks", genc_objective_name(obj), n_out[0], n_out[1], blocks);
    if (!rc) free_out(out, 2);
    o.stop_at_eos = 0;
    blocks = 0;
    rc = obj == GENC_OBJ_BD3 ? genc_bd3_sample_ex(&lm, "x", &o, out, n_out, &tr)
                             : genc_mdlm_sample_ex(&lm, "x", &o, out, n_out, &tr);
    int all_eos = rc == GENC_OK && n_out[0] == 16;
    for (int i = 0; all_eos && i < 16; i++) all_eos = out[0][i] == GENC_TOK_EOS;
    CHECK(all_eos && blocks == 4, "%s: without stopping, every block runs (%d)", genc_objective_name(obj), blocks);
    if (!rc) free_out(out, 2);
    genc_lm_free(&lm);
}

static void check_errors(void) {
    genc_lm lm;
    make_lm(&lm, GENC_OBJ_BD3, GENC_POS_ROPE, 4, 51);
    int32_t *out[1];
    int n_out[1];
    genc_lm_sample_opts o = opts(16, 1, 16, 8, GENC_SAMPLER_LLADA);
    CHECK(genc_lm_sample(&lm, "", &o, out, n_out) == GENC_ERR && strstr(genc_error(), "trained with"),
          "bd3 rejects a block size other than its own: %s", genc_error());
    o = opts(18, 1, 18, 0, GENC_SAMPLER_LLADA);
    CHECK(genc_lm_sample_validate(&lm, "", &o) == GENC_ERR && strstr(genc_error(), "multiple of --block"),
          "bd3: --len must be a multiple of the block: %s", genc_error());
    genc_lm_free(&lm);
    make_lm(&lm, GENC_OBJ_MDLM, GENC_POS_ROPE, 4, 51);
    o = opts(16, 1, 6, 4, GENC_SAMPLER_LLADA);
    CHECK(genc_lm_sample_validate(&lm, "", &o) == GENC_ERR && strstr(genc_error(), "number of blocks"),
          "mdlm: steps must be a multiple of the number of blocks: %s", genc_error());
    o = opts(16, 1, 16, 0, GENC_SAMPLER_EULER);
    CHECK(genc_lm_sample_validate(&lm, "", &o) == GENC_ERR, "mdlm: euler is refused: %s", genc_error());
    o = opts(16, 1, 16, 0, GENC_SAMPLER_LLADA);
    o.cfg = 1.f;
    CHECK(genc_lm_sample_validate(&lm, "", &o) == GENC_ERR, "cfg without a prompt is refused: %s", genc_error());
    genc_lm_free(&lm);
}

int main(void) {
    genc_lm_sample_opts o = opts(16, 2, 16, 0, GENC_SAMPLER_LLADA);
    check_cache(GENC_POS_ROPE, "", o, "llada");
    check_cache(GENC_POS_ROPE, "abc", o, "llada");
    check_cache(GENC_POS_ROPE, "Hello", o, "llada");
    o.remask = GENC_REMASK_RANDOM;
    o.top_p = 0.9f;
    check_cache(GENC_POS_LEARNED, "Hi", o, "llada random top-p");
    o = opts(16, 2, 8, 0, GENC_SAMPLER_FIRST_HITTING);
    o.cfg = 1.5f;
    check_cache(GENC_POS_ROPE_HALF, "Hi", o, "first-hitting cfg");
    o = opts(16, 2, 24, 0, GENC_SAMPLER_DDPM_CACHE);
    check_cache(GENC_POS_ALIBI, "Hey", o, "ddpm-cache");
    o = opts(16, 2, 16, 0, GENC_SAMPLER_LLADA);
    o.temperature = 0;
    check_cache(GENC_POS_T5, "Hey", o, "greedy");

    check_schedule(GENC_OBJ_MDLM, GENC_SAMPLER_LLADA, 24, 8, 12, "ab");
    check_schedule(GENC_OBJ_LLADA, GENC_SAMPLER_LLADA, 30, 10, 9, "");
    check_schedule(GENC_OBJ_MDLM, GENC_SAMPLER_FIRST_HITTING, 12, 12, 12, "q");
    check_schedule(GENC_OBJ_MDLM, GENC_SAMPLER_DDPM_CACHE, 16, 8, 40, "ab");
    check_schedule(GENC_OBJ_BD3, GENC_SAMPLER_LLADA, 12, 4, 6, "abc");
    check_schedule(GENC_OBJ_BD3, GENC_SAMPLER_FIRST_HITTING, 12, 4, 12, "ab");
    check_schedule(GENC_OBJ_BD3, GENC_SAMPLER_DDPM_CACHE, 12, 4, 24, "");

    check_cfg(GENC_SAMPLER_LLADA);
    check_cfg(GENC_SAMPLER_DDPM_CACHE);
    check_eos(GENC_OBJ_MDLM);
    check_eos(GENC_OBJ_BD3);
    check_errors();
    return tu_finish();
}
