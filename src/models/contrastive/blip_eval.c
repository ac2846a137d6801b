/* Evaluation of a BLIP model: ITC zero-shot and retrieval (the CLIP evaluation on its unimodal
 * encoders), zero-shot re-ranked by ITM (BLIP §5.1: ITC proposes the top k, ITM decides), and
 * caption accuracy — the fraction of test images whose caption names their class. */
#include "genc/blip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 100 }; /* images per forward pass */

/* p(matched) of n pairs: image tokens ctx [n, S, D] and captions */
static void match_probs(genc_ctx *c, genc_blip *m, genc_tensor *ctx, const int32_t *ids, const int *eos, int n, float *p) {
    genc_tensor *lg = genc_blip_itm_logits(c, m, ctx, ids, eos, n);
    for (int i = 0; i < n; i++) {
        float a = lg->data[2 * i], b = lg->data[2 * i + 1];
        p[i] = 1.f / (1.f + expf(a - b)); /* softmax over the two logits, class 1 */
    }
}

int genc_blip_match_prob(genc_blip *m, const float *x, const int32_t *ids, const int *eos, int n, float *p) {
    const genc_clip_config *cfg = &m->cfg.clip;
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return genc_set_error("out of memory");
    genc_no_grad(c);
    for (int i0 = 0; i0 < n; i0 += CHUNK) {
        int b = n - i0 < CHUNK ? n - i0 : CHUNK;
        genc_tensor *xi = genc_wrap(c, (float *)x + i0 * per, 4, (int[]){b, cfg->channels, cfg->height, cfg->width});
        match_probs(c, m, genc_clip_image_tokens(c, &m->base, xi), ids + (int64_t)i0 * cfg->ctx, eos + i0, b, p + i0);
        genc_ctx_reset(c);
    }
    genc_ctx_free(c);
    return GENC_OK;
}

/* Zero-shot top-1 of the first n test images after ITM re-ranks ITC's top k classes (scores
 * with the template ensemble W[K, E]; ITM reads each class's template-0 caption, cap[K]). */
static int rerank(genc_blip *m, const genc_images *test, int64_t n, int k, const float *W, const int32_t *cap,
                  const int *cap_eos, double *acc) {
    const genc_clip_config *cfg = &m->cfg.clip;
    int K = test->n_classes, E = cfg->embed, T = cfg->ctx;
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width, ok = 0;
    float *x = malloc(sizeof(float) * (size_t)(CHUNK * per)), *p = malloc(sizeof(float) * (size_t)CHUNK * k);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)CHUNK * k * T), *rows = malloc(sizeof(int32_t) * (size_t)CHUNK * k);
    int *eos = malloc(sizeof(int) * (size_t)CHUNK * k), *top = malloc(sizeof(int) * (size_t)CHUNK * k);
    genc_ctx *c = genc_ctx_new(0);
    int rc = x && p && ids && rows && eos && top && c ? GENC_OK : genc_set_error("out of memory");
    if (c) genc_no_grad(c);
    for (int64_t i0 = 0; i0 < n && rc == GENC_OK; i0 += CHUNK) {
        int b = (int)(n - i0 < CHUNK ? n - i0 : CHUNK);
        genc_images_get(test, i0, b, -1.f, 1.f, x, NULL);
        genc_tensor *tok = genc_clip_image_tokens(c, &m->base, genc_wrap(c, x, 4, (int[]){b, cfg->channels, cfg->height, cfg->width}));
        genc_tensor *emb = genc_clip_image_embedding(c, &m->base, tok);
        for (int i = 0; i < b; i++) {
            float s[256];
            for (int j = 0; j < K; j++) {
                double d = 0;
                for (int e = 0; e < E; e++) d += (double)emb->data[(int64_t)i * E + e] * W[(int64_t)j * E + e];
                s[j] = (float)d;
            }
            for (int r = 0; r < k; r++) { /* the r-th best class by ITC */
                int best = -1;
                for (int j = 0; j < K; j++) {
                    int used = 0;
                    for (int q = 0; q < r; q++) used |= top[i * k + q] == j;
                    if (!used && (best < 0 || s[j] > s[best])) best = j;
                }
                int pi = i * k + r;
                top[pi] = best, rows[pi] = i, eos[pi] = cap_eos[best];
                memcpy(ids + (int64_t)pi * T, cap + (int64_t)best * T, sizeof(int32_t) * (size_t)T);
            }
        }
        int S = tok->shape[1], D = tok->shape[2];
        genc_tensor *ctx = genc_embedding(c, genc_reshape(c, tok, 2, (int[]){b, S * D}), rows, b * k);
        match_probs(c, m, genc_reshape(c, ctx, 3, (int[]){b * k, S, D}), ids, eos, b * k, p);
        for (int i = 0; i < b; i++) {
            int best = 0; /* ties go to the class ITC ranked higher */
            for (int r = 1; r < k; r++)
                if (p[i * k + r] > p[i * k + best]) best = r;
            ok += top[i * k + best] == test->labels[i0 + i];
        }
        genc_ctx_reset(c);
    }
    *acc = n > 0 ? (double)ok / (double)n : NAN;
    if (c) genc_ctx_free(c);
    free(x); free(p); free(ids); free(rows); free(eos); free(top);
    return rc;
}

static int itm_rerank(genc_blip *m, const genc_images *test, int64_t n, int k, double *acc) {
    const genc_clip_config *cfg = &m->cfg.clip;
    int K = test->n_classes, T = cfg->ctx;
    if (k > K) k = K;
    float *W = malloc(sizeof(float) * (size_t)K * cfg->embed);
    int32_t *cap = malloc(sizeof(int32_t) * (size_t)K * T);
    int *eos = malloc(sizeof(int) * (size_t)K);
    int rc = W && cap && eos ? GENC_OK : genc_set_error("out of memory");
    if (rc == GENC_OK) rc = genc_clip_class_weights(&m->base, test->class_names, K, 0, GENC_CAPTION_TRAIN_TEMPLATES, W);
    for (int j = 0; j < K && rc == GENC_OK; j++) {
        char text[256];
        if (genc_caption_text(0, test->class_names[j], text, sizeof text) < 0 ||
            genc_caption_tokens(text, T, cap + (int64_t)j * T, &eos[j]))
            rc = GENC_ERR;
    }
    if (rc == GENC_OK) rc = rerank(m, test, n, k, W, cap, eos, acc);
    free(W);
    free(cap);
    free(eos);
    return rc;
}

static int caption_accuracy(genc_blip *m, const genc_images *test, int64_t n, const genc_caption_opts *o, double *acc) {
    const genc_clip_config *cfg = &m->cfg.clip;
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width, ok = 0;
    float *x = malloc(sizeof(float) * (size_t)(CHUNK * per));
    char *out[CHUNK];
    int rc = x ? GENC_OK : genc_set_error("out of memory");
    for (int64_t i0 = 0; i0 < n && rc == GENC_OK; i0 += CHUNK) {
        int b = (int)(n - i0 < CHUNK ? n - i0 : CHUNK);
        genc_images_get(test, i0, b, -1.f, 1.f, x, NULL);
        rc = genc_blip_caption(m, x, b, i0, o, out);
        for (int i = 0; rc == GENC_OK && i < b; i++) {
            ok += genc_caption_class(out[i], test->class_names, test->n_classes) == test->labels[i0 + i];
            free(out[i]);
        }
    }
    *acc = n > 0 ? (double)ok / (double)n : NAN;
    free(x);
    return rc;
}

int genc_blip_evaluate(genc_blip *m, const genc_images *test, int64_t n_images, int64_t n_pairs, int rerank_k,
                       int64_t n_caption, const genc_caption_opts *o, genc_blip_eval_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = genc_time_s();
    if (test->n_classes > 256) return genc_set_error("%d classes: at most 256 are supported", test->n_classes);
    int rc = genc_clip_evaluate(&m->base, test, n_images, n_pairs, &r->itc);
    r->top1_itm = NAN;
    r->caption_accuracy = NAN;
    if (rc == GENC_OK && rerank_k >= 2) {
        r->rerank_k = rerank_k < test->n_classes ? rerank_k : test->n_classes;
        rc = itm_rerank(m, test, r->itc.images, rerank_k, &r->top1_itm);
    }
    if (rc == GENC_OK && n_caption > 0) {
        r->captioned = n_caption < test->n ? n_caption : test->n;
        rc = caption_accuracy(m, test, r->captioned, o, &r->caption_accuracy);
    }
    r->seconds = genc_time_s() - t0;
    return rc;
}
