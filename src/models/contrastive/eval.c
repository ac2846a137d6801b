/* Evaluation of an image–text model: zero-shot classification (a class is the embedding of its
 * captions: one template, or the normalised mean over the training templates, Radford et al.
 * 2021 §3.1.4), retrieval recall at 1, 5, 10 on held-out pairs, and on held-out two-item
 * pairs whether the image prefers its caption to the one with the names swapped. Ties are
 * counted against the model, so a collapsed model (all scores equal) scores 0, not chance. */
#include "genc/contrastive.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double genc_zero_shot_accuracy(const float *scores, int64_t n, int K, const int32_t *labels) {
    if (n <= 0) return NAN;
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *s = scores + i * K;
        int y = labels[i], win = 1;
        for (int k = 0; k < K && win; k++)
            if (k != y && s[k] >= s[y]) win = 0;
        ok += win;
    }
    return (double)ok / (double)n;
}

int64_t genc_retrieval_rank(const float *scores, int64_t nc, const int32_t *ckeys, int32_t qkey) {
    float best = -INFINITY;
    int found = 0;
    for (int64_t j = 0; j < nc; j++)
        if (ckeys[j] == qkey && (!found || scores[j] > best)) best = scores[j], found = 1;
    if (!found) return nc + 1;
    int64_t rank = 1;
    for (int64_t j = 0; j < nc; j++)
        if (ckeys[j] != qkey && scores[j] >= best) rank++;
    return rank;
}

double genc_order_accuracy(const float *s_true, const float *s_swap, int64_t n) {
    if (n <= 0) return NAN;
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += s_true[i] > s_swap[i];
    return (double)ok / (double)n;
}

enum { EVAL_BATCH = 250 };

int genc_clip_text_embeddings(genc_clip *m, const char *const *texts, int n, float *out) {
    int T = m->cfg.ctx, E = m->cfg.embed;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n * T);
    int *eos = malloc(sizeof(int) * (size_t)n);
    genc_ctx *c = genc_ctx_new(0);
    int rc = ids && eos && c ? GENC_OK : genc_set_error("out of memory");
    for (int i = 0; i < n && rc == GENC_OK; i++)
        if (genc_caption_tokens(texts[i], T, ids + (int64_t)i * T, &eos[i])) rc = genc_wrap_error("text '%.40s'", texts[i]);
    if (rc == GENC_OK) {
        genc_no_grad(c);
        for (int i0 = 0; i0 < n; i0 += EVAL_BATCH) {
            int b = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            genc_tensor *y = genc_clip_embed_texts(c, m, ids + (int64_t)i0 * T, eos + i0, b);
            memcpy(out + (int64_t)i0 * E, y->data, sizeof(float) * (size_t)b * E);
            genc_ctx_reset(c);
        }
    }
    if (c) genc_ctx_free(c);
    free(ids);
    free(eos);
    return rc;
}

static void normalise(float *v, int E) {
    double s = 0;
    for (int e = 0; e < E; e++) s += (double)v[e] * v[e];
    float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
    for (int e = 0; e < E; e++) v[e] *= inv;
}

int genc_clip_class_weights(genc_clip *m, const char *const *names, int K, int t0, int t1, float *W) {
    int E = m->cfg.embed, nt = t1 - t0, n = K * nt;
    char **texts = calloc((size_t)n, sizeof(char *));
    float *emb = malloc(sizeof(float) * (size_t)n * E);
    int rc = texts && emb ? GENC_OK : genc_set_error("out of memory");
    for (int k = 0; k < K && rc == GENC_OK; k++)
        for (int t = 0; t < nt && rc == GENC_OK; t++) {
            char buf[512];
            if (genc_caption_text(t0 + t, names[k], buf, sizeof buf) < 0 || !(texts[k * nt + t] = strdup(buf))) rc = GENC_ERR;
        }
    if (rc == GENC_OK) rc = genc_clip_text_embeddings(m, (const char *const *)texts, n, emb);
    for (int k = 0; k < K && rc == GENC_OK; k++) {
        float *w = W + (int64_t)k * E;
        memset(w, 0, sizeof(float) * (size_t)E);
        for (int t = 0; t < nt; t++)
            for (int e = 0; e < E; e++) w[e] += emb[((int64_t)k * nt + t) * E + e];
        normalise(w, E);
    }
    for (int i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(emb);
    return rc;
}

int genc_clip_image_embeddings(genc_clip *m, const genc_images *im, int64_t n, float *out) {
    const genc_clip_config *cfg = &m->cfg;
    if (im->channels != cfg->channels || im->height != cfg->height || im->width != cfg->width)
        return genc_set_error("the images are %dx%dx%d, the model takes %dx%dx%d", im->height, im->width, im->channels,
                              cfg->height, cfg->width, cfg->channels);
    if (n > im->n) n = im->n;
    int E = cfg->embed;
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    float *x = malloc(sizeof(float) * (size_t)(EVAL_BATCH * per));
    genc_ctx *c = genc_ctx_new(0);
    if (!x || !c) {
        free(x);
        if (c) genc_ctx_free(c);
        return genc_set_error("out of memory");
    }
    genc_no_grad(c);
    for (int64_t i0 = 0; i0 < n; i0 += EVAL_BATCH) {
        int b = (int)(n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH);
        genc_images_get(im, i0, b, -1.f, 1.f, x, NULL);
        genc_tensor *t = genc_wrap(c, x, 4, (int[]){b, cfg->channels, cfg->height, cfg->width});
        genc_tensor *y = genc_clip_embed_images(c, m, t);
        memcpy(out + i0 * E, y->data, sizeof(float) * (size_t)b * E);
        genc_ctx_reset(c);
    }
    genc_ctx_free(c);
    free(x);
    return GENC_OK;
}

/* the largest score matrix: zero-shot [n, K ≤ KH], image→text [np, KH], text→image [np, np] */
static int64_t score_floats(int64_t n, int64_t np, int KH) {
    int64_t a = (n > np ? n : np) * KH, b = np * np;
    return a > b ? a : b;
}

int genc_clip_evaluate(genc_clip *m, const genc_images *test, int64_t n_images, int64_t n_pairs,
                       genc_clip_eval_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = genc_time_s();
    if (!test->labels || !test->class_names) return genc_set_error("evaluation needs labelled images with class names");
    const genc_clip_config *cfg = &m->cfg;
    if (test->channels != cfg->channels || test->height != cfg->height || test->width != cfg->width)
        return genc_set_error("test images are %dx%dx%d, the model takes %dx%dx%d", test->height, test->width,
                              test->channels, cfg->height, cfg->width, cfg->channels);
    int K = test->n_classes, E = cfg->embed;
    const int H = GENC_CAPTION_TEMPLATES - GENC_CAPTION_TRAIN_TEMPLATES;
    int64_t n = n_images > 0 && n_images < test->n ? n_images : test->n;
    int64_t np = n_pairs > 0 && n_pairs < test->n ? n_pairs : test->n;
    int64_t ni = n > np ? n : np;
    float *img = malloc(sizeof(float) * (size_t)(ni * E)), *W1 = malloc(sizeof(float) * (size_t)K * E),
          *We = malloc(sizeof(float) * (size_t)K * E), *Wh = malloc(sizeof(float) * (size_t)K * H * E),
          *S = malloc(sizeof(float) * (size_t)score_floats(n, np, K * H));
    int32_t *keys = malloc(sizeof(int32_t) * (size_t)(np > K * H ? np : K * H));
    int rc = img && W1 && We && Wh && S && keys ? GENC_OK : genc_set_error("out of memory");
    if (rc == GENC_OK) rc = genc_clip_image_embeddings(m, test, ni, img);
    if (rc == GENC_OK) rc = genc_clip_class_weights(m, test->class_names, K, 0, 1, W1);
    if (rc == GENC_OK) rc = genc_clip_class_weights(m, test->class_names, K, 0, GENC_CAPTION_TRAIN_TEMPLATES, We);
    /* the distinct held-out captions, caption (k, h) at row k·H + h */
    for (int k = 0; k < K && rc == GENC_OK; k++)
        for (int h = 0; h < H && rc == GENC_OK; h++) {
            float *w = Wh + ((int64_t)k * H + h) * E;
            rc = genc_clip_class_weights(m, test->class_names + k, 1, GENC_CAPTION_TRAIN_TEMPLATES + h,
                                         GENC_CAPTION_TRAIN_TEMPLATES + h + 1, w);
        }
    if (rc == GENC_OK) {
        r->images = n;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, E, 1.f, img, E, W1, E, 0.f, S, K);
        r->top1_single = genc_zero_shot_accuracy(S, n, K, test->labels);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, E, 1.f, img, E, We, E, 0.f, S, K);
        r->top1_ensemble = genc_zero_shot_accuracy(S, n, K, test->labels);
        /* image → text: candidates the K·H distinct held-out captions */
        const int ks[3] = {1, 5, 10};
        r->pairs = np;
        for (int j = 0; j < K * H; j++) keys[j] = j;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)np, K * H, E, 1.f, img, E, Wh, E, 0.f, S, K * H);
        for (int64_t i = 0; i < np; i++) {
            int32_t q = test->labels[i] * H + (genc_caption_heldout_template(i) - GENC_CAPTION_TRAIN_TEMPLATES);
            int64_t rk = genc_retrieval_rank(S + i * K * H, K * H, keys, q);
            for (int a = 0; a < 3; a++) r->i2t[a] += rk <= ks[a];
        }
        /* text → image: query i is pair i's caption, candidates the np images keyed by class */
        for (int64_t j = 0; j < np; j++) keys[j] = test->labels[j];
        float *txt = malloc(sizeof(float) * (size_t)(np * E));
        if (!txt) rc = genc_set_error("out of memory");
        for (int64_t i = 0; txt && i < np; i++) {
            int32_t q = test->labels[i] * H + (genc_caption_heldout_template(i) - GENC_CAPTION_TRAIN_TEMPLATES);
            memcpy(txt + i * E, Wh + (int64_t)q * E, sizeof(float) * (size_t)E);
        }
        if (txt) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)np, (int)np, E, 1.f, txt, E, img, E, 0.f, S, (int)np);
            for (int64_t i = 0; i < np; i++) {
                int64_t rk = genc_retrieval_rank(S + i * np, np, keys, test->labels[i]);
                for (int a = 0; a < 3; a++) r->t2i[a] += rk <= ks[a];
            }
        }
        free(txt);
        for (int a = 0; a < 3; a++) r->i2t[a] /= (double)np, r->t2i[a] /= (double)np;
    }
    free(img); free(W1); free(We); free(Wh); free(S); free(keys);
    r->seconds = genc_time_s() - t0;
    return rc;
}

int genc_clip_probe(genc_clip *m, const genc_images *train, int64_t n_train, const genc_images *test, int64_t n_test,
                    double *accuracy) {
    if (!train->labels || !test->labels) return genc_set_error("the linear probe needs labelled images");
    if (n_train > train->n) n_train = train->n;
    if (n_test > test->n) n_test = test->n;
    int E = m->cfg.embed;
    float *a = malloc(sizeof(float) * (size_t)(n_train * E)), *b = malloc(sizeof(float) * (size_t)(n_test * E));
    int rc = a && b ? GENC_OK : genc_set_error("out of memory");
    if (rc == GENC_OK) rc = genc_clip_image_embeddings(m, train, n_train, a);
    if (rc == GENC_OK) rc = genc_clip_image_embeddings(m, test, n_test, b);
    if (rc == GENC_OK)
        rc = genc_linear_probe(a, train->labels, n_train, b, test->labels, n_test, E, train->n_classes, accuracy);
    free(a);
    free(b);
    return rc;
}

/* Held-out two-item pairs. Candidates: the K·(K−1) ordered class pairs captioned with each
 * held-out pair template, caption (h, a, b) at row (h·K + a)·K + b (rows with a = b are
 * unused). Pair j (genc_pair_heldout) is scored against the captions of its own template. */
int genc_clip_evaluate_order(genc_clip *m, const genc_images *test, int64_t n_pairs, genc_clip_order_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = genc_time_s();
    const genc_clip_config *cfg = &m->cfg;
    if (!test->labels || !test->class_names) return genc_set_error("evaluation needs labelled images with class names");
    if (test->channels != cfg->channels || test->height != cfg->height || test->width != cfg->width)
        return genc_set_error("test images are %dx%dx%d, the model takes %dx%dx%d", test->height, test->width,
                              test->channels, cfg->height, cfg->width, cfg->channels);
    const int H = GENC_PAIR_TEMPLATES - GENC_PAIR_TRAIN_TEMPLATES, K = test->n_classes, E = cfg->embed;
    if (K < 2 || K > 256) return genc_set_error("two-item pairs need 2 to 256 classes, the test set has %d", K);
    int64_t most = test->n / 2 - 1;
    if (n_pairs <= 0 || n_pairs > most) n_pairs = most;
    int nc = H * K * K, ni = K * (K - 1);
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    char **texts = calloc((size_t)nc, sizeof(char *));
    float *W = calloc((size_t)nc * E, sizeof(float)), *img = malloc(sizeof(float) * (size_t)(n_pairs * E)),
          *x = malloc(sizeof(float) * (size_t)((EVAL_BATCH + 2) * per)), *S = malloc(sizeof(float) * (size_t)ni);
    int32_t *keys = malloc(sizeof(int32_t) * (size_t)ni);
    int64_t (*pair)[2] = malloc(sizeof(int64_t[2]) * (size_t)n_pairs);
    genc_ctx *c = genc_ctx_new(0);
    int rc = texts && W && img && x && S && keys && pair && c ? GENC_OK : genc_set_error("out of memory");
    /* the distinct captions, embedded in one call (the diagonal rows stay 0) */
    int n = 0;
    for (int h = 0; h < H && rc == GENC_OK; h++)
        for (int a = 0; a < K && rc == GENC_OK; a++)
            for (int b = 0; b < K && rc == GENC_OK; b++) {
                char buf[512];
                if (a == b) continue;
                if (genc_pair_caption_text(GENC_PAIR_TRAIN_TEMPLATES + h, test->class_names[a], test->class_names[b], buf,
                                           sizeof buf) < 0 ||
                    !(texts[n++] = strdup(buf)))
                    rc = GENC_ERR;
            }
    float *packed = rc == GENC_OK ? malloc(sizeof(float) * (size_t)n * E) : NULL;
    if (rc == GENC_OK && !packed) rc = genc_set_error("out of memory");
    if (rc == GENC_OK) rc = genc_clip_text_embeddings(m, (const char *const *)texts, n, packed);
    for (int h = 0, q = 0; h < H && rc == GENC_OK; h++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                if (a != b) memcpy(W + ((int64_t)(h * K + a) * K + b) * E, packed + (int64_t)q++ * E, sizeof(float) * E);
    free(packed);
    /* the pair canvases' embeddings */
    for (int64_t j = 0; j < n_pairs && rc == GENC_OK; j++) rc = genc_pair_heldout(test, j, &pair[j][0], &pair[j][1]);
    if (rc == GENC_OK) genc_no_grad(c);
    for (int64_t j0 = 0; j0 < n_pairs && rc == GENC_OK; j0 += EVAL_BATCH) {
        int bsz = (int)(n_pairs - j0 < EVAL_BATCH ? n_pairs - j0 : EVAL_BATCH);
        float *a = x + (int64_t)bsz * per, *b = a + per;
        for (int i = 0; i < bsz && rc == GENC_OK; i++) {
            genc_images_get(test, pair[j0 + i][0], 1, -1.f, 1.f, a, NULL);
            genc_images_get(test, pair[j0 + i][1], 1, -1.f, 1.f, b, NULL);
            rc = genc_pair_canvas(a, b, cfg->channels, cfg->height, cfg->width, -1.f, x + i * per);
        }
        if (rc) break;
        genc_tensor *t = genc_wrap(c, x, 4, (int[]){bsz, cfg->channels, cfg->height, cfg->width});
        memcpy(img + j0 * E, genc_clip_embed_images(c, m, t)->data, sizeof(float) * (size_t)bsz * E);
        genc_ctx_reset(c);
    }
    /* per pair: its caption against the swapped one, and its rank among all ordered pairs */
    int64_t hit = 0, hit_any = 0, ok = 0;
    for (int64_t j = 0; j < n_pairs && rc == GENC_OK; j++) {
        int h = genc_pair_heldout_template(j) - GENC_PAIR_TRAIN_TEMPLATES;
        int la = test->labels[pair[j][0]], lb = test->labels[pair[j][1]], m2 = 0;
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                if (a != b) {
                    const float *w = W + ((int64_t)(h * K + a) * K + b) * E;
                    float d = 0;
                    for (int e = 0; e < E; e++) d += img[j * E + e] * w[e];
                    S[m2] = d, keys[m2] = a * K + b;
                    m2++;
                }
        hit += genc_retrieval_rank(S, ni, keys, la * K + lb) == 1;
        /* index of (a, b) among the a ≠ b rows: a·(K−1) + b − (b > a) */
        float st = S[la * (K - 1) + lb - (lb > la)], ss = S[lb * (K - 1) + la - (la > lb)];
        ok += genc_order_accuracy(&st, &ss, 1) == 1.0;
        /* unordered: both orders share one key, so the rank counts the others above either */
        for (int q = 0; q < ni; q++) keys[q] = keys[q] == lb * K + la ? la * K + lb : keys[q];
        hit_any += genc_retrieval_rank(S, ni, keys, la * K + lb) == 1;
    }
    if (rc == GENC_OK) {
        r->pairs = n_pairs;
        r->order = (double)ok / (double)n_pairs;
        r->r1 = (double)hit / (double)n_pairs;
        r->r1_unordered = (double)hit_any / (double)n_pairs;
    }
    for (int i = 0; texts && i < nc; i++) free(texts[i]);
    free(texts); free(W); free(img); free(x); free(S); free(keys); free(pair);
    if (c) genc_ctx_free(c);
    r->seconds = genc_time_s() - t0;
    return rc;
}
