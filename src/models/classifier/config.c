/* Classifier configuration: defaults per net, validation, JSON (the checkpoint's "config").
 * Keys and ranges are documented in docs/classifier.md. A config read from a file is untrusted:
 * every field is range-checked and the parameter count is bounded before anything is allocated. */
#include "genc/classifier.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "nn/json_get.h"

static const char *NET_NAMES[GENC_NET_COUNT] = {"mlp", "cnn", "vit"};

const char *genc_net_name(genc_net_kind k) { return (unsigned)k < GENC_NET_COUNT ? NET_NAMES[k] : "?"; }

int genc_net_parse(const char *s, genc_net_kind *k) {
    for (int i = 0; i < GENC_NET_COUNT; i++)
        if (strcmp(s, NET_NAMES[i]) == 0) { *k = (genc_net_kind)i; return GENC_OK; }
    return genc_set_error("unknown net '%s' (choose mlp, cnn, vit)", s);
}

void genc_classifier_config_default(genc_classifier_config *c, genc_net_kind net) {
    memset(c, 0, sizeof *c);
    c->net = net;
    c->channels = 1;
    c->height = c->width = 28;
    c->classes = 10;
    c->hidden = 256;
    c->n_conv = 2;
    c->conv[0] = 32;
    c->conv[1] = 64;
    c->groups = 8;
    c->fc = 128;
    c->patch = 4;
    c->dim = 64;
    c->layers = 4;
    c->heads = 4;
    c->mlp_hidden = 256;
    c->norm_eps = 1e-5f;
}

int genc_classifier_feature_dim(const genc_classifier_config *c) {
    return c->net == GENC_NET_MLP ? c->hidden : c->net == GENC_NET_CNN ? c->fc : c->dim;
}

/* Every factor is at most 2^16 once validated field by field, so no product below overflows. */
int64_t genc_classifier_param_count(const genc_classifier_config *c) {
    int64_t pix = (int64_t)c->channels * c->height * c->width, F = genc_classifier_feature_dim(c), n = 0;
    if (c->net == GENC_NET_MLP) {
        n = pix * F + F + F * F + F;
    } else if (c->net == GENC_NET_CNN) {
        int64_t in = c->channels, h = c->height, w = c->width;
        for (int s = 0; s < c->n_conv; s++) {
            n += (int64_t)c->conv[s] * in * 9 + 3 * (int64_t)c->conv[s];
            in = c->conv[s];
            h /= 2;
            w /= 2;
        }
        n += in * h * w * F + F;
    } else {
        int64_t D = c->dim, P = (int64_t)c->channels * c->patch * c->patch;
        n = P * D + D + D + 2 * D;                                   /* patch_emb, cls, ln_f */
        n += (int64_t)c->layers * (4 * (D * D + D) + 4 * D + 2 * D * c->mlp_hidden + c->mlp_hidden + D);
    }
    return n + F * c->classes + c->classes;
}

/* Largest activation of one image in one layer (floats): a 64 MiB tensor per image already
 * means gigabytes per batch; Fashion-MNIST nets use ~25 000. */
#define MAX_ACT ((int64_t)1 << 24)

#define RANGE(field, lo, hi, what)                                                          \
    if (c->field < (lo) || c->field > (hi))                                                 \
        return genc_set_error("config: %s %d out of range [%d, %d]", what, c->field, lo, hi);

int genc_classifier_config_validate(const genc_classifier_config *c) {
    if ((unsigned)c->net >= GENC_NET_COUNT) return genc_set_error("config: unknown net");
    RANGE(channels, 1, 4, "channels")
    RANGE(height, 1, 1024, "height")
    RANGE(width, 1, 1024, "width")
    RANGE(classes, 2, 1000, "classes")
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) return genc_set_error("config: norm_eps %g must be in (0, 1)", c->norm_eps);
    if (c->net == GENC_NET_MLP) {
        RANGE(hidden, 1, 16384, "hidden (--hidden)")
    } else if (c->net == GENC_NET_CNN) {
        RANGE(n_conv, 1, GENC_CLS_MAX_STAGES, "number of conv stages (--channels)")
        RANGE(groups, 1, 1024, "groups (--groups)")
        RANGE(fc, 1, 16384, "fc (--fc)")
        int h = c->height, w = c->width;
        for (int s = 0; s < c->n_conv; s++) {
            if (c->conv[s] < 1 || c->conv[s] > 4096)
                return genc_set_error("config: stage %d has %d channels, out of range [1, 4096]", s, c->conv[s]);
            if (c->conv[s] % c->groups)
                return genc_set_error("config: --groups %d must divide every stage's channels (stage %d has %d)",
                                      c->groups, s, c->conv[s]);
            if ((int64_t)c->conv[s] * h * w > MAX_ACT)
                return genc_set_error("config: stage %d would hold %lld values per image (%d channels at %dx%d), "
                                      "more than %lld", s, (long long)c->conv[s] * h * w, c->conv[s], h, w,
                                      (long long)MAX_ACT);
            if (h % 2 || w % 2)
                return genc_set_error("config: %d pooling stages need the image side divisible by %d (image %dx%d)",
                                      c->n_conv, 1 << c->n_conv, c->height, c->width);
            h /= 2;
            w /= 2;
        }
    } else {
        RANGE(patch, 1, 64, "patch (--patch)")
        RANGE(dim, 4, 4096, "dim (--dim)")
        RANGE(layers, 1, 64, "layers (--layers)")
        RANGE(heads, 1, 256, "heads (--heads)")
        RANGE(mlp_hidden, 1, 16384, "mlp_hidden (--mlp-hidden)")
        if (c->height % c->patch || c->width % c->patch)
            return genc_set_error("config: --patch %d must divide the image size %dx%d", c->patch, c->height, c->width);
        int64_t T = 1 + (int64_t)(c->height / c->patch) * (c->width / c->patch);
        if (T > 4096 || T * (c->mlp_hidden > c->dim ? c->mlp_hidden : c->dim) > MAX_ACT)
            return genc_set_error("config: %lld tokens of width %d/%d are too many for one image (at most 4096 "
                                  "tokens and %lld values per layer)", (long long)T, c->dim, c->mlp_hidden,
                                  (long long)MAX_ACT);
        if (c->dim % c->heads || (c->dim / c->heads) % 4)
            return genc_set_error("config: --heads %d must divide --dim %d into heads whose size is a multiple of 4 "
                                  "(axial 2D RoPE rotates two halves of pairs)", c->heads, c->dim);
    }
    int64_t n = genc_classifier_param_count(c);
    if (n > ((int64_t)1 << 28))
        return genc_set_error("config: %lld parameters is more than the limit of %lld", (long long)n,
                              (long long)1 << 28);
    return GENC_OK;
}
#undef RANGE

/* The keys every net has, then only its own net's. */
char *genc_classifier_config_to_json(const genc_classifier_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "net", genc_net_name(c->net));
    cJSON_AddNumberToObject(o, "channels", c->channels);
    cJSON_AddNumberToObject(o, "height", c->height);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "classes", c->classes);
    if (c->net == GENC_NET_MLP) cJSON_AddNumberToObject(o, "hidden", c->hidden);
    if (c->net == GENC_NET_CNN) {
        cJSON_AddItemToObject(o, "conv", cJSON_CreateIntArray(c->conv, c->n_conv));
        cJSON_AddNumberToObject(o, "groups", c->groups);
        cJSON_AddNumberToObject(o, "fc", c->fc);
    }
    if (c->net == GENC_NET_VIT) {
        cJSON_AddNumberToObject(o, "patch", c->patch);
        cJSON_AddNumberToObject(o, "dim", c->dim);
        cJSON_AddNumberToObject(o, "layers", c->layers);
        cJSON_AddNumberToObject(o, "heads", c->heads);
        cJSON_AddNumberToObject(o, "mlp_hidden", c->mlp_hidden);
    }
    if (c->net != GENC_NET_MLP) cJSON_AddNumberToObject(o, "norm_eps", genc_json_float(c->norm_eps));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* A field of the config: typed reads (whole numbers within int, finite floats) here, ranges in
 * genc_classifier_config_validate. Absent keys keep the net's defaults. */
static int get_int(const cJSON *o, const char *key, int *dst) {
    return genc_json_get_int(o, "config", key, INT_MIN, INT_MAX, dst);
}
int genc_classifier_config_from_json(const char *json, genc_classifier_config *c) {
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return genc_set_error("config: not a JSON object");
    }
    int rc = GENC_OK;
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(o, "net");
    genc_net_kind k = GENC_NET_MLP;
    if (!cJSON_IsString(net)) rc = genc_set_error("config: missing \"net\" (mlp, cnn or vit)");
    else if (genc_net_parse(net->valuestring, &k)) rc = genc_wrap_error("config");
    genc_classifier_config_default(c, k);
    if (rc == GENC_OK &&
        (get_int(o, "channels", &c->channels) || get_int(o, "height", &c->height) || get_int(o, "width", &c->width) ||
         get_int(o, "classes", &c->classes) || get_int(o, "hidden", &c->hidden) || get_int(o, "groups", &c->groups) ||
         get_int(o, "fc", &c->fc) || get_int(o, "patch", &c->patch) || get_int(o, "dim", &c->dim) ||
         get_int(o, "layers", &c->layers) || get_int(o, "heads", &c->heads) ||
         get_int(o, "mlp_hidden", &c->mlp_hidden) || genc_json_get_f32(o, "config", "norm_eps", 0, 1, &c->norm_eps)))
        rc = GENC_ERR;
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(o, "conv");
    if (rc == GENC_OK && conv) {
        int n = cJSON_IsArray(conv) ? cJSON_GetArraySize(conv) : -1;
        if (n < 1 || n > GENC_CLS_MAX_STAGES)
            rc = genc_set_error("config: \"conv\" must be an array of 1 to %d channel counts", GENC_CLS_MAX_STAGES);
        for (int i = 0; rc == GENC_OK && i < n; i++) {
            const cJSON *it = cJSON_GetArrayItem(conv, i);
            double v = it->valuedouble;
            if (!cJSON_IsNumber(it) || !(v >= 1 && v <= 4096) || v != floor(v))
                rc = genc_set_error("config: \"conv\"[%d] must be an integer in [1, 4096]", i);
            else c->conv[i] = (int)v;
        }
        if (rc == GENC_OK) c->n_conv = n;
    }
    cJSON_Delete(o);
    if (rc == GENC_OK) rc = genc_classifier_config_validate(c);
    return rc;
}
