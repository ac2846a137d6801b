/* The three classifier nets: parameters, initialisation and the forward pass to logits and
 * penultimate features. Tensor names are the checkpoint's (docs/classifier.md) and match the
 * torch.nn modules of tests/parity/classifier.py. */
#include "genc/classifier.h"

#include "vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linear layer followed by a ReLU: He normal init N(0, 2/in) keeps the activation scale
 * through ReLU layers (He et al., 2015). */
static int relu_linear_init(genc_linear_m *m, genc_params *ps, const char *name, int in, int out, genc_rng *r) {
    return genc_linear_m_init(m, ps, name, in, out, 1, r, sqrtf(2.f / (float)in));
}

/* A parameter "stages.<s>.<what>" (NULL with genc_error() set when it cannot be made). */
static genc_tensor *stage_param(genc_params *ps, int s, const char *what, int ndim, const int *shape) {
    char name[64];
    snprintf(name, sizeof name, "stages.%d.%s", s, what);
    return genc_param_new(ps, name, ndim, shape);
}

static int init_cnn(genc_classifier *m, genc_rng *r) {
    const genc_classifier_config *cfg = &m->cfg;
    genc_params *ps = &m->params;
    int in = cfg->channels, h = cfg->height, w = cfg->width;
    for (int s = 0; s < cfg->n_conv; s++) {
        genc_cls_stage *st = &m->stages[s];
        int out = cfg->conv[s];
        if (!(st->conv_w = stage_param(ps, s, "conv.weight", 4, (int[]){out, in, 3, 3})) ||
            !(st->conv_b = stage_param(ps, s, "conv.bias", 1, (int[]){out})) ||
            !(st->norm_w = stage_param(ps, s, "norm.weight", 1, (int[]){out})) ||
            !(st->norm_b = stage_param(ps, s, "norm.bias", 1, (int[]){out})))
            return GENC_ERR;
        genc_param_init_normal(st->conv_w, r, sqrtf(2.f / (float)(in * 9)));
        genc_param_fill(st->norm_w, 1.f);
        in = out;
        h /= 2;
        w /= 2;
    }
    return relu_linear_init(&m->fc, ps, "fc", in * h * w, cfg->fc, r);
}

int genc_classifier_init(genc_classifier *m, const genc_classifier_config *cfg, uint64_t seed) {
    memset(m, 0, sizeof *m);
    if (genc_classifier_config_validate(cfg)) return GENC_ERR;
    m->cfg = *cfg;
    genc_params_init(&m->params);
    genc_rng r = genc_rng_make(seed, 0x696e6974ull); /* "init" */
    genc_params *ps = &m->params;
    int F = genc_classifier_feature_dim(cfg), pix = cfg->channels * cfg->height * cfg->width, rc;
    float head_std = sqrtf(1.f / (float)F);
    switch (cfg->net) {
    case GENC_NET_MLP:
        rc = relu_linear_init(&m->fc1, ps, "fc1", pix, cfg->hidden, &r) ||
             relu_linear_init(&m->fc2, ps, "fc2", cfg->hidden, cfg->hidden, &r);
        break;
    case GENC_NET_CNN: rc = init_cnn(m, &r); break;
    default:
        rc = genc_classifier_vit_init(m, &r);
        head_std = 0.02f;
        break;
    }
    if (rc || genc_linear_m_init(&m->head, ps, "head", F, cfg->classes, 1, &r, head_std)) {
        genc_classifier_free(m);
        return GENC_ERR;
    }
    return GENC_OK;
}

void genc_classifier_free(genc_classifier *m) {
    genc_params_free(&m->params);
    genc_transformer_free(&m->vit);
    memset(m, 0, sizeof *m);
}

/* One CNN stage: conv 3×3 (pad 1) → GroupNorm → ReLU → 2×2 average pool.
 * [B, Cin, H, W] → [B, Cout, H/2, W/2]. */
static genc_tensor *cnn_stage(genc_ctx *c, const genc_cls_stage *st, genc_tensor *x, int groups, float eps) {
    x = genc_conv2d(c, x, st->conv_w, st->conv_b, 1, 1);
    x = genc_group_norm(c, x, groups, st->norm_w, st->norm_b, eps);
    return genc_avg_pool2d(c, genc_relu(c, x), 2);
}

genc_tensor *genc_classifier_forward(genc_ctx *c, genc_classifier *m, genc_tensor *x, genc_tensor **features) {
    const genc_classifier_config *cfg = &m->cfg;
    int B = x->shape[0];
    GENC_ASSERT(x->ndim == 4 && x->shape[1] == cfg->channels && x->shape[2] == cfg->height &&
                    x->shape[3] == cfg->width, "classifier: input is not [B, %d, %d, %d]", cfg->channels,
                cfg->height, cfg->width);
    genc_tensor *f;
    switch (cfg->net) {
    case GENC_NET_MLP: {
        genc_tensor *h = genc_reshape(c, x, 2, (int[]){B, cfg->channels * cfg->height * cfg->width});
        h = genc_relu(c, genc_linear_m_fwd(c, &m->fc1, h));
        f = genc_relu(c, genc_linear_m_fwd(c, &m->fc2, h));
        break;
    }
    case GENC_NET_CNN: {
        genc_tensor *h = x;
        for (int s = 0; s < cfg->n_conv; s++) h = cnn_stage(c, &m->stages[s], h, cfg->groups, cfg->norm_eps);
        h = genc_reshape(c, h, 2, (int[]){B, (int)(h->n / B)});
        f = genc_relu(c, genc_linear_m_fwd(c, &m->fc, h));
        break;
    }
    default: f = genc_classifier_vit_features(c, m, x); break;
    }
    if (features) *features = f;
    return genc_linear_m_fwd(c, &m->head, f);
}

genc_tensor *genc_classifier_loss(genc_ctx *c, genc_classifier *m, genc_tensor *x, const int32_t *labels) {
    return genc_cross_entropy(c, genc_classifier_forward(c, m, x, NULL), labels, -1, 0.f, NULL, 0.f);
}

int genc_classifier_check_images(const genc_classifier_config *cfg, const genc_images *im, int need_labels) {
    if (im->channels != cfg->channels || im->height != cfg->height || im->width != cfg->width)
        return genc_set_error("the images are %dx%dx%d (channels x height x width) but the model takes %dx%dx%d",
                              im->channels, im->height, im->width, cfg->channels, cfg->height, cfg->width);
    if (!need_labels) return GENC_OK;
    if (!im->labels) return genc_set_error("the images have no labels file");
    for (int64_t i = 0; i < im->n; i++)
        if (im->labels[i] < 0 || im->labels[i] >= cfg->classes)
            return genc_set_error("image %lld has label %d but the model has %d classes (0 to %d)", (long long)i,
                                  im->labels[i], cfg->classes, cfg->classes - 1);
    return GENC_OK;
}

/* Run the net without a tape over x in chunks of at most 256 images, giving each chunk's
 * features (want_probs 0) or softmax probabilities (1). */
static int run_chunks(genc_classifier *m, const float *x, int64_t B, float *out, int want_probs) {
    const genc_classifier_config *cfg = &m->cfg;
    int64_t pix = (int64_t)cfg->channels * cfg->height * cfg->width;
    int width = want_probs ? cfg->classes : genc_classifier_feature_dim(cfg);
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return genc_set_error("out of memory");
    genc_no_grad(c);
    for (int64_t i = 0; i < B; i += 256) {
        int n = (int)(B - i < 256 ? B - i : 256);
        genc_ctx_reset(c);
        genc_tensor *xt = genc_wrap(c, (float *)x + i * pix, 4, (int[]){n, cfg->channels, cfg->height, cfg->width});
        genc_tensor *f, *logits = genc_classifier_forward(c, m, xt, &f);
        genc_tensor *o = want_probs ? genc_softmax(c, logits) : f;
        memcpy(out + i * width, o->data, sizeof(float) * (size_t)n * width);
    }
    genc_ctx_free(c);
    return GENC_OK;
}

int genc_classifier_features(genc_classifier *m, const float *x, int64_t B, float *out) {
    return run_chunks(m, x, B, out, 0);
}

int genc_classifier_probs(genc_classifier *m, const float *x, int64_t B, float *probs) {
    return run_chunks(m, x, B, probs, 1);
}
