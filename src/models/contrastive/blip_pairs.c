/* Pair sets: a fixed list of (image, caption) pairs with what is known about each (the class
 * the caption names, whether it is wrong, whether the captioner wrote it). CapFilt builds a
 * noisy one, extends it with synthetic captions and filters it; the trainers draw batches. */
#include "genc/blip.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_pair_set_init(genc_pair_set *s, const genc_images *im, int ctx) {
    memset(s, 0, sizeof *s);
    s->im = im;
    s->ctx = ctx;
}

void genc_pair_set_free(genc_pair_set *s) {
    free(s->image);
    free(s->ids);
    free(s->eos);
    free(s->named);
    free(s->wrong);
    free(s->synthetic);
    memset(s, 0, sizeof *s);
}

#define GROW(p, n) (tmp = realloc((p), sizeof *(p) * (size_t)(n))) ? (void)((p) = tmp) : (void)(ok = 0)

static int grow(genc_pair_set *s) {
    int64_t cap = s->cap ? 2 * s->cap : 1024;
    void *tmp;
    int ok = 1;
    GROW(s->image, cap);
    GROW(s->ids, cap * s->ctx);
    GROW(s->eos, cap);
    GROW(s->named, cap);
    GROW(s->wrong, cap);
    GROW(s->synthetic, cap);
    if (!ok) return genc_set_error("out of memory for %lld pairs", (long long)cap);
    s->cap = cap;
    return GENC_OK;
}

int genc_pair_set_add(genc_pair_set *s, int64_t image, const char *text, int synthetic) {
    if (image < 0 || image >= s->im->n) return genc_set_error("pair: image %lld of %lld", (long long)image, (long long)s->im->n);
    if (s->n == s->cap && grow(s)) return GENC_ERR;
    int64_t i = s->n;
    if (genc_caption_tokens(text, s->ctx, s->ids + i * s->ctx, &s->eos[i])) return GENC_ERR;
    int K = s->im->class_names ? s->im->n_classes : 0;
    s->image[i] = image;
    s->named[i] = K ? genc_caption_class(text, s->im->class_names, K) : -1;
    s->wrong[i] = !s->im->labels || s->named[i] != s->im->labels[image];
    s->synthetic[i] = (uint8_t)synthetic;
    s->n++;
    return GENC_OK;
}

int genc_pair_set_copy(genc_pair_set *dst, const genc_pair_set *src, int64_t i) {
    if (dst->ctx != src->ctx) return genc_set_error("pair sets of %d and %d positions", dst->ctx, src->ctx);
    if (dst->n == dst->cap && grow(dst)) return GENC_ERR;
    int64_t j = dst->n++;
    memcpy(dst->ids + j * dst->ctx, src->ids + i * src->ctx, sizeof(int32_t) * (size_t)src->ctx);
    dst->image[j] = src->image[i], dst->eos[j] = src->eos[i], dst->named[j] = src->named[i];
    dst->wrong[j] = src->wrong[i], dst->synthetic[j] = src->synthetic[i];
    return GENC_OK;
}

int genc_pair_set_noisy(genc_pair_set *s, int64_t n, double corrupt, genc_rng *r) {
    const genc_images *im = s->im;
    if (!im->labels || !im->class_names || im->n_classes < 2) return genc_set_error("a noisy pair set needs labelled images of 2 or more named classes");
    if (n < 1 || n > im->n) return genc_set_error("%lld images asked for, %lld available", (long long)n, (long long)im->n);
    if (!(corrupt >= 0 && corrupt <= 1)) return genc_set_error("corrupt fraction %g is outside [0, 1]", corrupt);
    int64_t n_bad = (int64_t)llround(corrupt * (double)n);
    /* which images get a wrong caption: the first n_bad of a partial Fisher–Yates shuffle */
    int64_t *order = malloc(sizeof(int64_t) * (size_t)n);
    uint8_t *bad = calloc((size_t)n, 1);
    int rc = order && bad ? GENC_OK : genc_set_error("out of memory");
    for (int64_t i = 0; i < n && rc == GENC_OK; i++) order[i] = i;
    for (int64_t i = 0; i < n_bad && rc == GENC_OK; i++) {
        int64_t j = i + (int64_t)(genc_rng_uniform(r) * (double)(n - i));
        if (j >= n) j = n - 1;
        int64_t t = order[i];
        order[i] = order[j], order[j] = t;
        bad[order[i]] = 1;
    }
    for (int64_t i = 0; i < n && rc == GENC_OK; i++) {
        int y = im->labels[i], K = im->n_classes;
        int k = (int)genc_rng_below(r, GENC_CAPTION_TRAIN_TEMPLATES);
        if (bad[i]) { /* another class, uniform over the K − 1 others */
            int o = (int)genc_rng_below(r, (uint32_t)(K - 1));
            y = o >= y ? o + 1 : o;
        }
        char text[256];
        if (genc_caption_text(k, im->class_names[y], text, sizeof text) < 0 || genc_pair_set_add(s, i, text, 0)) rc = GENC_ERR;
    }
    free(order);
    free(bad);
    return rc;
}

void genc_pair_set_batch(const genc_pair_set *s, genc_rng *r, int B, float lo, float hi, float *x, int32_t *ids,
                         int *eos, int32_t *keys) {
    const genc_images *im = s->im;
    int64_t per = (int64_t)im->channels * im->height * im->width;
    for (int b = 0; b < B; b++) {
        int64_t i = (int64_t)(genc_rng_uniform(r) * (double)s->n);
        if (i >= s->n) i = s->n - 1;
        genc_images_get(im, s->image[i], 1, lo, hi, x + b * per, NULL);
        memcpy(ids + (int64_t)b * s->ctx, s->ids + i * s->ctx, sizeof(int32_t) * (size_t)s->ctx);
        eos[b] = s->eos[i];
        /* a caption naming no class gets a key of its own: never a positive of another */
        if (keys) keys[b] = s->named[i] >= 0 ? s->named[i] : -1 - b;
    }
}
