/* Captions over class names: the image–text pairs of the contrastive family, built from any
 * labelled image set with class names (Fashion-MNIST). A caption is a template's text before
 * the name, the article that fits the name ("a" or "an"), the lower-case name, the text after
 * it. The rng decides which image and which training template; held-out templates caption
 * only test images (docs/data.md, "Captions"). Two-item pairs put two items of different
 * classes side by side on one canvas and name both in order ("a sandal to the left of a
 * shirt."): a caption that only lists the items cannot tell them from the swapped pair. */
#include "genc/contrastive.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {before the article, after the name}; the first GENC_CAPTION_TRAIN_TEMPLATES are trained on */
static const char *const TEMPLATES[GENC_CAPTION_TEMPLATES][2] = {
    {"a photo of ", "."},
    {"", "."},
    {"a picture of ", "."},
    {"a small photo of ", "."},
    {"a grey photo of ", "."},
    {"a low resolution photo of ", "."},
    /* held out */
    {"an image of ", "."},
    {"a close-up photo of ", ", centred."},
};

/* "Ankle boot" → "an ankle boot" into out[160] */
static int article_name(const char *name, char *out) {
    char low[128];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof low) return genc_set_error("class name of %zu bytes (1 to %zu allowed)", n, sizeof low - 1);
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    snprintf(out, 160, "%s %s", strchr("aeiou", low[0]) ? "an" : "a", low);
    return GENC_OK;
}

int genc_caption_text(int k, const char *name, char *buf, size_t cap) {
    if (k < 0 || k >= GENC_CAPTION_TEMPLATES) return genc_set_error("caption template %d is not in [0, %d)", k, GENC_CAPTION_TEMPLATES);
    char an[160];
    if (article_name(name, an)) return GENC_ERR;
    int w = snprintf(buf, cap, "%s%s%s", TEMPLATES[k][0], an, TEMPLATES[k][1]);
    if (w < 0 || (size_t)w >= cap) return genc_set_error("caption '%s' does not fit in %zu bytes", an, cap);
    return w;
}

/* {between the two names, after the second, which item is named first}; the first
 * GENC_PAIR_TRAIN_TEMPLATES are trained on. Short enough that the longest pair of
 * Fashion-MNIST names ("an ankle boot", "a t-shirt/top") fits 46 bytes. */
static const struct { const char *mid, *end; int right_first; } PAIR_TEMPLATES[GENC_PAIR_TEMPLATES] = {
    {" to the left of ", ".", 0},
    {" to the right of ", ".", 1},
    {", then ", ".", 0},
    {" left, ", " right.", 0},
    /* held out */
    {" on the left of ", ".", 0},
    {" on the right of ", ".", 1},
};

int genc_pair_caption_text(int k, const char *left, const char *right, char *buf, size_t cap) {
    if (k < 0 || k >= GENC_PAIR_TEMPLATES) return genc_set_error("pair template %d is not in [0, %d)", k, GENC_PAIR_TEMPLATES);
    char l[160], r[160];
    if (article_name(left, l) || article_name(right, r)) return GENC_ERR;
    int rf = PAIR_TEMPLATES[k].right_first;
    int w = snprintf(buf, cap, "%s%s%s%s", rf ? r : l, PAIR_TEMPLATES[k].mid, rf ? l : r, PAIR_TEMPLATES[k].end);
    if (w < 0 || (size_t)w >= cap) return genc_set_error("pair caption of '%s' and '%s' does not fit in %zu bytes", l, r, cap);
    return w;
}

/* Each item 2×2-area-averaged to (H/2)×(W/2); rows centred, left item in columns [0, W/2),
 * right item in [W/2, 2·(W/2)); the rest (and an odd last column) is bg. */
int genc_pair_canvas(const float *left, const float *right, int C, int H, int W, float bg, float *out) {
    if (C < 1 || H < 2 || W < 2) return genc_set_error("pair canvas: %dx%dx%d is too small to hold two items", H, W, C);
    int h = H / 2, w = W / 2, top = (H - h) / 2;
    for (int64_t i = 0; i < (int64_t)C * H * W; i++) out[i] = bg;
    for (int side = 0; side < 2; side++) {
        const float *src = side ? right : left;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    const float *p = src + ((int64_t)c * H + 2 * y) * W + 2 * x;
                    out[((int64_t)c * H + top + y) * W + side * w + x] = 0.25f * (p[0] + p[1] + p[W] + p[W + 1]);
                }
    }
    return GENC_OK;
}

int genc_caption_tokens(const char *text, int T, int32_t *ids, int *eos) {
    size_t n = strlen(text);
    if (n == 0) return genc_set_error("empty text");
    if (T < 2 || (int64_t)n + 2 > T)
        return genc_set_error("text of %zu bytes needs %zu positions with BOS and EOS; the text tower has %d", n, n + 2, T);
    ids[0] = GENC_TOK_BOS;
    genc_tokenize((const uint8_t *)text, (int64_t)n, ids + 1);
    ids[n + 1] = GENC_TOK_EOS;
    for (int t = (int)n + 2; t < T; t++) ids[t] = GENC_TOK_PAD;
    *eos = (int)n + 1;
    return GENC_OK;
}

int genc_caption_batch(const genc_images *im, genc_rng *r, int B, int T, float lo, float hi, float *x,
                       int32_t *ids, int *eos, int32_t *labels) {
    if (!im->labels || !im->class_names) return genc_set_error("captions need labelled images with class names");
    int64_t per = (int64_t)im->channels * im->height * im->width;
    for (int i = 0; i < B; i++) {
        int32_t cls;
        genc_images_batch(im, r, 1, lo, hi, x + i * per, &cls);
        int k = (int)genc_rng_below(r, GENC_CAPTION_TRAIN_TEMPLATES);
        char text[256];
        if (genc_caption_text(k, im->class_names[cls], text, sizeof text) < 0 ||
            genc_caption_tokens(text, T, ids + (int64_t)i * T, &eos[i]))
            return GENC_ERR;
        if (labels) labels[i] = cls;
    }
    return GENC_OK;
}

int genc_caption_heldout_template(int64_t i) {
    const int h = GENC_CAPTION_TEMPLATES - GENC_CAPTION_TRAIN_TEMPLATES;
    return GENC_CAPTION_TRAIN_TEMPLATES + (int)(i % h);
}

int genc_pair_heldout_template(int64_t j) {
    const int h = GENC_PAIR_TEMPLATES - GENC_PAIR_TRAIN_TEMPLATES;
    return GENC_PAIR_TRAIN_TEMPLATES + (int)(j % h);
}

int genc_pair_heldout(const genc_images *im, int64_t j, int64_t *left, int64_t *right) {
    if (!im->labels || j < 0 || 2 * j + 1 >= im->n) return genc_set_error("held-out pair %lld needs images %lld and up", (long long)j, 2 * (long long)j + 1);
    int64_t a = 2 * j, b = 2 * j + 1;
    while (b < im->n && im->labels[b] == im->labels[a]) b++;
    if (b == im->n) return genc_set_error("held-out pair %lld: no image after %lld of another class", (long long)j, (long long)a);
    *left = a;
    *right = b;
    return GENC_OK;
}

/* image i of im, drawn (one rng call) or given, scaled into x */
static int64_t draw(const genc_images *im, genc_rng *r, float lo, float hi, float *x) {
    int64_t i = genc_rng_below(r, (uint32_t)im->n);
    genc_images_get(im, i, 1, lo, hi, x, NULL);
    return i;
}

int genc_caption_batch_mixed(const genc_images *im, genc_rng *r, int B, int n_pairs, int T, float lo, float hi,
                             float *x, int32_t *ids, int *eos, int32_t *labels) {
    if (n_pairs < 0 || n_pairs > B) return genc_set_error("%d two-item pairs in a batch of %d", n_pairs, B);
    if (n_pairs && im->n_classes < 2) return genc_set_error("two-item pairs need at least two classes");
    if (genc_caption_batch(im, r, B - n_pairs, T, lo, hi, x, ids, eos, labels)) return GENC_ERR;
    int64_t per = (int64_t)im->channels * im->height * im->width;
    float *a = malloc(sizeof(float) * (size_t)(2 * per)), *b = a + per;
    if (!a) return genc_set_error("out of memory");
    int rc = GENC_OK;
    for (int i = B - n_pairs; i < B && rc == GENC_OK; i++) {
        int64_t ia = draw(im, r, lo, hi, a), ib;
        /* redraw the right item until its class differs: the swapped caption must differ */
        int tries = 0;
        do ib = draw(im, r, lo, hi, b);
        while (im->labels[ib] == im->labels[ia] && ++tries < 1000);
        if (im->labels[ib] == im->labels[ia]) rc = genc_set_error("no image of a second class in 1000 draws");
        int k = (int)genc_rng_below(r, GENC_PAIR_TRAIN_TEMPLATES);
        char text[256];
        if (rc == GENC_OK)
            rc = genc_pair_canvas(a, b, im->channels, im->height, im->width, lo, x + i * per) ||
                 genc_pair_caption_text(k, im->class_names[im->labels[ia]], im->class_names[im->labels[ib]], text,
                                        sizeof text) < 0 ||
                 genc_caption_tokens(text, T, ids + (int64_t)i * T, &eos[i]) ? GENC_ERR : GENC_OK;
        if (labels) labels[i] = -1;
    }
    free(a);
    return rc;
}
