/* genc classify of an image–text checkpoint: zero-shot labels of any PNG. Each label becomes
 * the template ensemble of its captions (docs/data.md); probabilities are softmax(100·x·w_k)
 * over the labels (CLIP's zero-shot logits). The picture is converted as for the classifier
 * (genc_classifier_picture_input: alpha over white, luma, centre crop, area resampling,
 * inversion of light backgrounds). */
#include "cli.h"
#include "genc/classifier.h"
#include "genc/contrastive.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 256

const char CLIP_CLASSIFY_HELP[] =
    "usage: genc classify DIR --image PICTURE.png --labels \"a,b,c\" [--invert auto|yes|no]\n"
    "\n"
    "Zero-shot labels of a picture by an image-text model (genc train clip): each label is\n"
    "captioned with the training templates ('a photo of a {label}.', ...), and the labels are\n"
    "ranked by softmax(100 x cosine). Labels are separated by commas (at most 256); each must\n"
    "fit the text tower's context with the longest template.\n";

/* "a, b,c" → trimmed labels in buf (owned by the caller); GENC_ERR on an empty label */
static int split_labels(char *s, char **out, int *n) {
    *n = 0;
    for (char *p = s;;) {
        char *end = strchr(p, ',');
        if (end) *end = 0;
        while (*p == ' ') p++;
        size_t len = strlen(p);
        while (len && p[len - 1] == ' ') p[--len] = 0;
        if (!len) return genc_set_error("--labels has an empty label (expects \"a,b,c\")");
        if (*n == MAX_LABELS) return genc_set_error("--labels: more than %d labels", MAX_LABELS);
        out[(*n)++] = p;
        if (!end) break;
        p = end + 1;
    }
    return GENC_OK;
}

int clip_picture(const genc_clip *m, const char *path, int invert, float *x, int *inverted) {
    genc_classifier_config pc;
    genc_classifier_config_default(&pc, GENC_NET_MLP);
    pc.channels = m->cfg.channels;
    pc.height = m->cfg.height;
    pc.width = m->cfg.width;
    genc_image pic = {0};
    int rc = genc_png_read(path, &pic) || genc_classifier_picture_input(&pc, &pic, invert, x, inverted);
    genc_image_free(&pic);
    return rc ? genc_wrap_error("%s", path) : GENC_OK;
}

int clip_classify(int argc, char **argv) {
    const char *image = NULL, *labels = NULL;
    int invert = -1;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(CLIP_CLASSIFY_HELP);
        else if (flag(&a, "--image")) image = val_str(&a, "--image");
        else if (flag(&a, "--labels")) labels = val_str(&a, "--labels");
        else if (flag(&a, "--invert")) invert = val_invert(&a, "--invert");
        else return usage_error("unknown flag '%s' for classify of an image-text model", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!image) return usage_error("classify needs --image FILE.png");
    if (!labels) return usage_error("classify of an image-text model needs --labels \"a,b,c\"");
    char *lab = strdup(labels);
    char *names[MAX_LABELS];
    int K = 0;
    if (!lab) return runtime_error("out of memory");
    if (split_labels(lab, names, &K)) {
        free(lab);
        return usage_error("%s", genc_error());
    }
    genc_st_file f;
    genc_clip m;
    if (genc_checkpoint_open(argv[0], &f)) {
        free(lab);
        return runtime_error("%s", genc_error());
    }
    int rc = genc_clip_load_file(&f, &m, NULL);
    genc_st_free(&f);
    if (rc) {
        free(lab);
        return runtime_error("%s: %s", argv[0], genc_error());
    }
    rc = EXIT_RUNTIME;
    int E = m.cfg.embed, inverted = 0;
    float *x = malloc(sizeof(float) * (size_t)m.cfg.channels * m.cfg.height * m.cfg.width);
    float *W = malloc(sizeof(float) * (size_t)K * E), p[MAX_LABELS];
    for (int k = 0; k < K; k++) {
        char buf[1024];
        for (int t = 0; t < GENC_CAPTION_TRAIN_TEMPLATES; t++) {
            int len = genc_caption_text(t, names[k], buf, sizeof buf);
            if (len < 0 || len + 2 > m.cfg.ctx) {
                rc = usage_error("--labels: '%s' is too long: its captions must fit %d byte positions", names[k], m.cfg.ctx);
                goto done;
            }
        }
    }
    if (!x || !W) {
        runtime_error("out of memory");
        goto done;
    }
    if (clip_picture(&m, image, invert, x, &inverted)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    if (genc_clip_class_weights(&m, (const char *const *)names, K, 0, GENC_CAPTION_TRAIN_TEMPLATES, W)) {
        runtime_error("%s", genc_error());
        goto done;
    }
    genc_ctx *c = genc_ctx_new(0);
    if (!c) {
        runtime_error("out of memory");
        goto done;
    }
    genc_no_grad(c);
    genc_tensor *e = genc_clip_embed_images(c, &m, genc_wrap(c, x, 4, (int[]){1, m.cfg.channels, m.cfg.height, m.cfg.width}));
    double mx = -INFINITY, s = 0;
    for (int k = 0; k < K; k++) {
        double d = 0;
        for (int j = 0; j < E; j++) d += (double)e->data[j] * W[(int64_t)k * E + j];
        p[k] = (float)(100 * d);
        if (p[k] > mx) mx = p[k];
    }
    genc_ctx_free(c);
    for (int k = 0; k < K; k++) s += exp(p[k] - mx);
    for (int k = 0; k < K; k++) p[k] = (float)(exp(p[k] - mx) / s);
    printf("%s%s:\n", image, inverted ? " (inverted)" : "");
    int used[MAX_LABELS] = {0};
    for (int i = 0; i < K; i++) {
        int best = -1;
        for (int k = 0; k < K; k++)
            if (!used[k] && (best < 0 || p[k] > p[best])) best = k;
        used[best] = 1;
        printf("  %6.2f%%  %s\n", 100.0 * p[best], names[best]);
    }
    rc = 0;
done:
    free(x);
    free(W);
    free(lab);
    genc_clip_free(&m);
    return rc;
}
