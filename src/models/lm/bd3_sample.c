/* Sampling from a block diffusion model (BD3-LM §3.3): blocks left to right; inside a block
 * the masked-diffusion steps of masked_sample.c (llada, first-hitting or ddpm-cache), each a
 * network pass over the block that attends to the KV cache of the finished blocks without
 * adding to it (cache_peek); then one pass over the finished, clean block appends its keys and
 * values. Because of the block-causal mask a clean block's keys never depend on later tokens,
 * so the cache is exact: the logits equal those of recomputing the whole prefix (the
 * no_cache mode of genc_msample_trace, which the tests compare against).
 *
 * Blocks sit where training put them: at positions that are multiples of the block size. The
 * canvas [BOS | prompt | MASK × len] therefore starts at position sh = (−(1 + prompt)) mod blk,
 * so that the prompt ends on a block boundary and every generated block is whole (rotary and
 * relative encodings see the same distances; the first, partial block just has fewer keys, like
 * the start of a training window). Sampling stops when every sample has produced EOS. */
#include "masked.h"

#include <stdlib.h>
#include <string.h>

/* ids[rows, a..b) of the canvas into a contiguous [rows, b − a] buffer */
static void gather(const int32_t *canvas, int rows, int N, int a, int b, int32_t *dst) {
    for (int r = 0; r < rows; r++)
        memcpy(dst + (size_t)r * (b - a), canvas + (size_t)r * N + a, sizeof(int32_t) * (size_t)(b - a));
}

int genc_bd3_sample_ex(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out,
                       int *n_out, const genc_msample_trace *tr) {
    if (genc_lm_sample_validate(lm, prompt, o)) return GENC_ERR;
    const genc_tf_config *cfg = &lm->model.cfg;
    int blk = lm->train.block; /* validation refuses any other --block */
    int V = cfg->vocab, plen = (int)strlen(prompt), P = plen + 1, len = o->len, N = P + len;
    int sh = (blk - P % blk) % blk;
    if (cfg->pos == GENC_POS_LEARNED && sh + N > cfg->max_pos)
        return genc_set_error("prompt + --len = %d (+%d to align blocks) exceeds the learned position table (%d)", N,
                              sh, cfg->max_pos);
    int n = o->n, guided = o->cfg > 0, rows = guided ? 2 * n : n;
    int nblk = len / blk, spb = (o->steps > 0 ? o->steps : len) / nblk;
    int no_cache = tr && tr->no_cache;
    genc_denoiser d;
    if (genc_denoiser_init(&d, o, V, blk)) return GENC_ERR;
    genc_kv_cache kv = {0};
    genc_ctx *c = genc_ctx_new(0);
    int32_t *canvas = malloc(sizeof(int32_t) * (size_t)rows * N);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)rows * N);
    int *pos = malloc(sizeof(int) * (size_t)N);
    int mlen = no_cache ? N : P;
    uint8_t *mask = malloc((size_t)mlen * mlen);
    float *comb = malloc(sizeof(float) * (size_t)n * blk * V);
    int *sched = malloc(sizeof(int) * (size_t)spb);
    int *done = calloc((size_t)n, sizeof(int));
    for (int b = 0; b < n; b++) out[b] = NULL;
    int rc = GENC_ERR;
    if (!c || !canvas || !ids || !pos || !mask || !comb || !sched || !done) { genc_set_error("out of memory"); goto fail; }
    if (!no_cache && genc_kv_cache_init(&kv, &lm->model, rows, N)) goto fail;
    for (int b = 0; b < rows; b++) {
        int32_t *row = canvas + (size_t)b * N;
        row[0] = GENC_TOK_BOS;
        for (int i = 0; i < plen; i++) row[1 + i] = b < n ? (uint8_t)prompt[i] : GENC_TOK_MASK;
        for (int i = P; i < N; i++) row[i] = GENC_TOK_MASK;
    }
    for (int i = 0; i < N; i++) pos[i] = sh + i;
    int prev = genc_no_grad(c);
    genc_tf_run base = {0};
    base.bidirectional = 1;
    base.cur_len = sh + N;
    if (!no_cache) { /* the prompt's blocks, block-causal, into the cache */
        genc_ctx_reset(c);
        gather(canvas, rows, N, 0, P, ids);
        genc_bd3_prefix_mask(P, sh, blk, mask);
        genc_tf_run run = base;
        run.pos = pos;
        run.mask = mask;
        run.cache = &kv;
        run.return_hidden = 1;
        genc_transformer_forward(c, &lm->model, ids, rows, P, &run);
    }
    for (int k = 0; k < nblk; k++) {
        int lo = P + k * blk, dirty = 1;
        genc_num_transfer(blk, spb, sched);
        for (int st = 0; st < spb; st++) {
            int forwarded = 0;
            if (dirty) {
                genc_ctx_reset(c);
                for (int b = 0; guided && b < n; b++)
                    memcpy(canvas + (size_t)(n + b) * N + lo, canvas + (size_t)b * N + lo, sizeof(int32_t) * (size_t)blk);
                genc_tensor *lg;
                genc_tf_run run = base;
                if (no_cache) { /* reference: the whole prefix and this block, block-causal */
                    int T = lo + blk;
                    gather(canvas, rows, N, 0, T, ids);
                    genc_bd3_prefix_mask(T, sh, blk, mask);
                    run.pos = pos;
                    run.mask = mask;
                    run.return_hidden = 1;
                    genc_tensor *h = genc_transformer_forward(c, &lm->model, ids, rows, T, &run);
                    lg = genc_lm_head_rows(c, lm, h, rows, T, lo, blk);
                } else { /* this block over the cache, which it does not extend */
                    gather(canvas, rows, N, lo, lo + blk, ids);
                    run.pos = pos + lo;
                    run.cache = &kv;
                    run.cache_peek = 1;
                    lg = genc_transformer_forward(c, &lm->model, ids, rows, blk, &run);
                }
                int64_t m = (int64_t)n * blk * V;
                if (guided) genc_cfg_combine(lg->data, lg->data + m, m, o->cfg, comb);
                else memcpy(comb, lg->data, sizeof(float) * (size_t)m);
                dirty = 0;
                forwarded = 1;
            }
            int committed = genc_denoise_block(&d, canvas, n, N, lo, blk, comb, st, spb, sched);
            genc_lm_progress(lm, (int64_t)k * spb + st + 1, (int64_t)nblk * spb);
            if (committed) dirty = 1;
            if (tr && tr->fn) {
                genc_msample_event e = {k, st, canvas, n, N, P, lo, blk, comb, V, committed, forwarded};
                tr->fn(tr->user, &e);
            }
        }
        for (int b = 0; guided && b < n; b++) /* the finished block, for the unconditional rows */
            memcpy(canvas + (size_t)(n + b) * N + lo, canvas + (size_t)b * N + lo, sizeof(int32_t) * (size_t)blk);
        int all = 1;
        for (int b = 0; b < n; b++) {
            for (int i = lo; i < lo + blk && !done[b]; i++) done[b] = canvas[(size_t)b * N + i] == GENC_TOK_EOS;
            all &= done[b];
        }
        if (o->stop_at_eos && all) break;
        if (!no_cache && k + 1 < nblk) { /* commit the clean block's keys and values */
            genc_ctx_reset(c);
            gather(canvas, rows, N, lo, lo + blk, ids);
            genc_tf_run run = base;
            run.pos = pos + lo;
            run.cache = &kv;
            run.return_hidden = 1;
            genc_transformer_forward(c, &lm->model, ids, rows, blk, &run);
        }
    }
    genc_restore_grad(c, prev);
    if (genc_canvas_extract(canvas, n, N, P, len, o->stop_at_eos, out, n_out)) goto fail;
    rc = GENC_OK;
fail:
    if (rc != GENC_OK)
        for (int b = 0; b < n; b++) { free(out[b]); out[b] = NULL; }
    genc_denoiser_free(&d);
    genc_kv_cache_free(&kv);
    genc_ctx_free(c);
    free(canvas); free(ids); free(pos); free(mask); free(comb); free(sched); free(done);
    return rc;
}

int genc_bd3_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out) {
    return genc_bd3_sample_ex(lm, prompt, o, out, n_out, NULL);
}
