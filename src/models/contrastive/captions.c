/* Captions over class names: the image–text pairs of the contrastive family, built from any
 * labelled image set with class names (Fashion-MNIST). A caption is a template's text before
 * the name, the article that fits the name ("a" or "an"), the lower-case name, the text after
 * it. The rng decides which image and which training template; held-out templates caption
 * only test images (docs/data.md, "Captions"). */
#include "genc/contrastive.h"

#include <ctype.h>
#include <stdio.h>
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

int genc_caption_text(int k, const char *name, char *buf, size_t cap) {
    if (k < 0 || k >= GENC_CAPTION_TEMPLATES) return genc_set_error("caption template %d is not in [0, %d)", k, GENC_CAPTION_TEMPLATES);
    char low[128];
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof low) return genc_set_error("class name of %zu bytes (1 to %zu allowed)", n, sizeof low - 1);
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    const char *art = strchr("aeiou", low[0]) ? "an" : "a";
    int w = snprintf(buf, cap, "%s%s %s%s", TEMPLATES[k][0], art, low, TEMPLATES[k][1]);
    if (w < 0 || (size_t)w >= cap) return genc_set_error("caption '%s' does not fit in %zu bytes", low, cap);
    return w;
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
