/* Transformer configuration: defaults, validation, and JSON (the "config" entry of a
 * checkpoint's metadata; keys documented in docs/checkpoint-format.md).
 *
 * A config comes from untrusted files, so validation bounds every size and the parameter
 * count (in int64) before anything is allocated. */
#include "genc/nn.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *MLP_NAMES[] = {"gelu", "gelu-tanh", "quickgelu", "swiglu"};
static const char *COND_NAMES[] = {"none", "add", "adaln"};

const char *genc_mlp_name(genc_mlp_kind k) { return (unsigned)k < 4 ? MLP_NAMES[k] : "?"; }
int genc_mlp_parse(const char *s, genc_mlp_kind *k) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, MLP_NAMES[i]) == 0) { *k = (genc_mlp_kind)i; return GENC_OK; }
    return genc_set_error("unknown MLP '%s' (choose gelu, gelu-tanh, quickgelu, swiglu)", s);
}

const char *genc_cond_name(genc_cond_kind k) { return (unsigned)k < 3 ? COND_NAMES[k] : "?"; }
int genc_cond_parse(const char *s, genc_cond_kind *k) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, COND_NAMES[i]) == 0) { *k = (genc_cond_kind)i; return GENC_OK; }
    return genc_set_error("unknown conditioning '%s' (choose none, add, adaln)", s);
}

void genc_tf_config_default(genc_tf_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->vocab = 260;
    cfg->dim = 256;
    cfg->layers = 4;
    cfg->heads = 4;
    cfg->max_pos = 1024;
    cfg->causal = 1;
    cfg->pos = GENC_POS_ROPE;
    cfg->rope.base = 10000.f;
    cfg->rope.scaling = GENC_ROPE_SCALE_NONE;
    cfg->rope.factor = 1.f;
    cfg->rope.trained_len = 256;
    cfg->t5_buckets = 32;
    cfg->t5_max_distance = 128;
    cfg->norm_rms = 0;
    cfg->norm_eps = 1e-5f;
    cfg->mlp = GENC_MLP_GELU;
    cfg->bias = 1;
    cfg->tie_embeddings = 0;
    cfg->dropout = 0.f;
    cfg->init_std = 0.02f;
    cfg->cond = GENC_COND_NONE;
}

void genc_tf_config_patches(genc_tf_config *cfg, int dim, int heads, int layers, int H, int W, int P,
                            genc_pos pos) {
    genc_tf_config_default(cfg);
    cfg->vocab = 0;
    cfg->dim = dim;
    cfg->heads = heads;
    cfg->layers = layers;
    cfg->causal = 0;
    cfg->pos = pos;
    cfg->grid_h = P > 0 ? H / P : 0;
    cfg->grid_w = P > 0 ? W / P : 0;
}

int genc_tf_mlp_hidden(const genc_tf_config *cfg) {
    if (cfg->mlp_hidden > 0) return cfg->mlp_hidden;
    if (cfg->mlp == GENC_MLP_SWIGLU) return (8 * cfg->dim / 3 + 31) / 32 * 32;
    return 4 * cfg->dim;
}

int64_t genc_tf_param_count(const genc_tf_config *c) {
    int64_t D = c->dim, H = genc_tf_mlp_hidden(c), Dc = c->ctx_dim ? c->ctx_dim : D;
    int64_t Dn = c->cond_dim ? c->cond_dim : D, b = c->bias ? 1 : 0, adaln = c->cond == GENC_COND_ADALN;
    int64_t norm = adaln ? 0 : c->norm_rms ? D : 2 * D;
    int64_t blk = 2 * norm + 4 * (D * D + b * D) + (c->mlp == GENC_MLP_SWIGLU ? 2 : 1) * H * (D + b) + H * D + b * D;
    if (c->cross_attn) blk += (c->norm_rms ? D : 2 * D) + 2 * (D * D + b * D) + 2 * (D * Dc + b * D);
    if (adaln) blk += 6 * D * (Dn + 1);
    int64_t n = (int64_t)c->layers * blk + (int64_t)c->vocab * D * (c->tie_embeddings ? 1 : 2);
    if (c->pos == GENC_POS_LEARNED) n += (int64_t)c->max_pos * D;
    if (c->pos == GENC_POS_LEARNED2D) n += (int64_t)(c->grid_h + c->grid_w) * D;
    if (c->pos == GENC_POS_T5) n += (int64_t)c->t5_buckets * c->heads;
    n += c->cls_token ? D : 0;
    n += adaln ? 2 * D * (Dn + 1) : norm;
    return n;
}

int64_t genc_tf_param_count_owned(const genc_tf_config *c, unsigned share) {
    int64_t D = c->dim, H = genc_tf_mlp_hidden(c), Dc = c->ctx_dim ? c->ctx_dim : D, b = c->bias ? 1 : 0;
    int64_t norm = c->norm_rms ? D : 2 * D, n = genc_tf_param_count(c), per = 0;
    if (share & GENC_TF_SHARE_SELF_ATTN) per += norm + 4 * (D * D + b * D);
    if ((share & GENC_TF_SHARE_CROSS_ATTN) && c->cross_attn) per += norm + 2 * (D * D + b * D) + 2 * (D * Dc + b * D);
    if (share & GENC_TF_SHARE_MLP) per += norm + (c->mlp == GENC_MLP_SWIGLU ? 2 : 1) * H * (D + b) + H * D + b * D;
    n -= (int64_t)c->layers * per;
    if (share & GENC_TF_SHARE_EMBED) {
        n -= (int64_t)c->vocab * D + (c->cls_token ? D : 0);
        if (c->pos == GENC_POS_LEARNED) n -= (int64_t)c->max_pos * D;
        if (c->pos == GENC_POS_LEARNED2D) n -= (int64_t)(c->grid_h + c->grid_w) * D;
        if (c->pos == GENC_POS_T5) n -= (int64_t)c->t5_buckets * c->heads;
    }
    if (share & GENC_TF_SHARE_FINAL) n -= norm + (c->vocab > 0 && !c->tie_embeddings ? (int64_t)c->vocab * D : 0);
    return n;
}

#define MAX_PARAMS (INT64_C(1) << 31) /* 8 GiB of float32: far above any CPU-trainable model */

static int is_flag(int v) { return v == 0 || v == 1; }

int genc_tf_config_validate(const genc_tf_config *c) {
    if ((unsigned)c->pos >= GENC_POS_COUNT || (unsigned)c->mlp > GENC_MLP_SWIGLU ||
        (unsigned)c->rope.scaling > GENC_ROPE_SCALE_YARN || (unsigned)c->cond > GENC_COND_ADALN)
        return genc_set_error("unknown enum value in config");
    if (c->vocab != 0 && (c->vocab < 2 || c->vocab > 1 << 20))
        return genc_set_error("vocab %d out of range (0: no token embedding, or [2, 2^20])", c->vocab);
    if (c->vocab == 0 && c->tie_embeddings) return genc_set_error("tie_embeddings needs a vocabulary (vocab > 0)");
    if (c->dim < 2 || c->dim > 16384) return genc_set_error("--dim %d out of range [2, 16384]", c->dim);
    if (c->layers < 1 || c->layers > 256) return genc_set_error("--layers %d out of range [1, 256]", c->layers);
    if (c->heads < 1 || c->dim % c->heads)
        return genc_set_error("--heads %d must be positive and divide --dim %d", c->heads, c->dim);
    int dh = c->dim / c->heads;
    if (genc_pos_is_rope(c->pos) && dh % 2)
        return genc_set_error("RoPE needs an even head dimension (dim/heads = %d)", dh);
    if ((c->pos == GENC_POS_ROPE2D || c->pos == GENC_POS_ROPE2D_HALF) && dh % 4)
        return genc_set_error("2D RoPE needs a head dimension divisible by 4 (dim/heads = %d)", dh);
    if (dh > 1024) return genc_set_error("head dimension %d too large (max 1024)", dh);
    if (c->pos == GENC_POS_SINUSOIDAL && c->dim % 2)
        return genc_set_error("sinusoidal positions need an even --dim (%d)", c->dim);
    if (c->max_pos < 1 || c->max_pos > 1 << 20) return genc_set_error("max_pos %d out of range", c->max_pos);
    if (c->mlp_hidden < 0 || c->mlp_hidden > 1 << 20)
        return genc_set_error("mlp_hidden %d out of range [0, 2^20]", c->mlp_hidden);
    if (c->rope.scaling != GENC_ROPE_SCALE_NONE && !(c->rope.factor >= 1.f && c->rope.factor <= 1024.f))
        return genc_set_error("--rope-factor %g must be in [1, 1024]", c->rope.factor);
    if (!(c->rope.base > 1.f && c->rope.base <= 1e9f))
        return genc_set_error("rope base %g must be in (1, 1e9]", c->rope.base);
    if (c->rope.trained_len < 1 || c->rope.trained_len > 1 << 24)
        return genc_set_error("rope trained length %d out of range [1, 2^24]", c->rope.trained_len);
    if (c->pos == GENC_POS_T5 && (c->t5_buckets < 4 || c->t5_buckets > 4096 || c->t5_max_distance < 2 ||
                                  c->t5_max_distance > 1 << 24))
        return genc_set_error("T5 bias needs 4 to 4096 buckets and max distance in [2, 2^24]");
    if (!(c->dropout >= 0.f && c->dropout < 1.f)) return genc_set_error("--dropout %g must be in [0, 1)", c->dropout);
    if (!(c->norm_eps > 0.f && c->norm_eps < 1.f)) return genc_set_error("norm eps %g must be in (0, 1)", c->norm_eps);
    if (!(c->init_std > 0.f && c->init_std < 100.f))
        return genc_set_error("init std %g must be in (0, 100)", c->init_std);
    if (!is_flag(c->cross_attn) || !is_flag(c->cls_token))
        return genc_set_error("cross_attn and cls_token are booleans");
    if (c->ctx_dim < 0 || c->ctx_dim > 65536) return genc_set_error("ctx_dim %d out of range [0, 65536]", c->ctx_dim);
    if (c->cond_dim < 0 || c->cond_dim > 65536)
        return genc_set_error("cond_dim %d out of range [0, 65536]", c->cond_dim);
    if (c->cond == GENC_COND_ADD && c->cond_dim != 0 && c->cond_dim != c->dim)
        return genc_set_error("cond = add needs cond_dim = dim (%d), not %d", c->dim, c->cond_dim);
    if (c->grid_h < 0 || c->grid_h > 4096 || c->grid_w < 0 || c->grid_w > 4096)
        return genc_set_error("grid %dx%d out of range [0, 4096]", c->grid_h, c->grid_w);
    if (genc_pos_is_2d(c->pos)) {
        if (c->grid_h < 1 || c->grid_w < 1)
            return genc_set_error("2D positions (%s) need a patch grid (grid_h, grid_w >= 1)", genc_pos_name(c->pos));
        if ((int64_t)c->grid_h * c->grid_w + c->cls_token > 1 << 20)
            return genc_set_error("grid %dx%d has too many patches (max 2^20)", c->grid_h, c->grid_w);
        if (c->pos != GENC_POS_LEARNED2D && c->rope.scaling != GENC_ROPE_SCALE_NONE)
            return genc_set_error("2D RoPE has no context-extension scaling");
    }
    int64_t n = genc_tf_param_count(c);
    if (n > MAX_PARAMS)
        return genc_set_error("config has %lld parameters, about %.0f GiB to train (weights, gradients, AdamW "
                              "moments); the most genc accepts is %lld parameters", (long long)n,
                              (double)n * 16.0 / (1024.0 * 1024.0 * 1024.0), (long long)MAX_PARAMS);
    return GENC_OK;
}

/* ---------------------------------------------------------------- JSON */

char *genc_tf_config_to_json(const genc_tf_config *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", "transformer");
    cJSON_AddNumberToObject(o, "vocab", c->vocab);
    cJSON_AddNumberToObject(o, "dim", c->dim);
    cJSON_AddNumberToObject(o, "layers", c->layers);
    cJSON_AddNumberToObject(o, "heads", c->heads);
    cJSON_AddNumberToObject(o, "mlp_hidden", c->mlp_hidden);
    cJSON_AddNumberToObject(o, "max_pos", c->max_pos);
    cJSON_AddBoolToObject(o, "causal", c->causal);
    cJSON_AddStringToObject(o, "pos", genc_pos_name(c->pos));
    cJSON_AddNumberToObject(o, "rope_base", genc_json_float(c->rope.base));
    cJSON_AddStringToObject(o, "rope_scaling", genc_rope_scaling_name(c->rope.scaling));
    cJSON_AddNumberToObject(o, "rope_factor", genc_json_float(c->rope.factor));
    cJSON_AddNumberToObject(o, "rope_trained_len", c->rope.trained_len);
    cJSON_AddNumberToObject(o, "t5_buckets", c->t5_buckets);
    cJSON_AddNumberToObject(o, "t5_max_distance", c->t5_max_distance);
    cJSON_AddStringToObject(o, "norm", c->norm_rms ? "rms" : "layer");
    cJSON_AddNumberToObject(o, "norm_eps", genc_json_float(c->norm_eps));
    cJSON_AddStringToObject(o, "mlp", genc_mlp_name(c->mlp));
    cJSON_AddBoolToObject(o, "bias", c->bias);
    cJSON_AddBoolToObject(o, "tie_embeddings", c->tie_embeddings);
    cJSON_AddNumberToObject(o, "dropout", genc_json_float(c->dropout));
    cJSON_AddNumberToObject(o, "init_std", genc_json_float(c->init_std));
    cJSON_AddBoolToObject(o, "cross_attn", c->cross_attn);
    cJSON_AddNumberToObject(o, "ctx_dim", c->ctx_dim);
    cJSON_AddStringToObject(o, "cond", genc_cond_name(c->cond));
    cJSON_AddNumberToObject(o, "cond_dim", c->cond_dim);
    cJSON_AddBoolToObject(o, "cls_token", c->cls_token);
    cJSON_AddNumberToObject(o, "grid_h", c->grid_h);
    cJSON_AddNumberToObject(o, "grid_w", c->grid_w);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* An integer (or a boolean, as 0/1) that fits an int; absent keys keep the default. */
static int get_int(cJSON *o, const char *k, int *dst, int required) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it) return required ? genc_set_error("config: missing \"%s\"", k) : GENC_OK;
    if (cJSON_IsBool(it)) { *dst = cJSON_IsTrue(it); return GENC_OK; }
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!(v >= INT_MIN && v <= INT_MAX) || v != floor(v))
        return genc_set_error("config: \"%s\" must be an integer within int range", k);
    *dst = (int)v;
    return GENC_OK;
}

static int get_float(cJSON *o, const char *k, float *dst) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it) return GENC_OK;
    if (!cJSON_IsNumber(it) || !(fabs(it->valuedouble) <= 3e38))
        return genc_set_error("config: \"%s\" must be a number within float range", k);
    *dst = (float)it->valuedouble;
    return GENC_OK;
}

static const char *get_str(cJSON *o, const char *k) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

int genc_tf_config_from_json(const char *json, genc_tf_config *c) {
    genc_tf_config_default(c);
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return genc_set_error("config: not a JSON object");
    }
    int rc = GENC_OK, time_cond = 0;
    const char *s;
    if (get_int(o, "vocab", &c->vocab, 1) || get_int(o, "dim", &c->dim, 1) ||
        get_int(o, "layers", &c->layers, 1) || get_int(o, "heads", &c->heads, 1) ||
        get_int(o, "mlp_hidden", &c->mlp_hidden, 0) || get_int(o, "max_pos", &c->max_pos, 0) ||
        get_int(o, "causal", &c->causal, 0) || get_int(o, "rope_trained_len", &c->rope.trained_len, 0) ||
        get_int(o, "t5_buckets", &c->t5_buckets, 0) || get_int(o, "t5_max_distance", &c->t5_max_distance, 0) ||
        get_int(o, "bias", &c->bias, 0) || get_int(o, "tie_embeddings", &c->tie_embeddings, 0) ||
        get_int(o, "cross_attn", &c->cross_attn, 0) || get_int(o, "ctx_dim", &c->ctx_dim, 0) ||
        get_int(o, "cond_dim", &c->cond_dim, 0) || get_int(o, "cls_token", &c->cls_token, 0) ||
        get_int(o, "grid_h", &c->grid_h, 0) || get_int(o, "grid_w", &c->grid_w, 0) ||
        get_int(o, "time_cond", &time_cond, 0) ||
        get_float(o, "rope_base", &c->rope.base) || get_float(o, "rope_factor", &c->rope.factor) ||
        get_float(o, "norm_eps", &c->norm_eps) || get_float(o, "dropout", &c->dropout) ||
        get_float(o, "init_std", &c->init_std))
        rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "pos")) && genc_pos_parse(s, &c->pos)) rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "rope_scaling")) && genc_rope_scaling_parse(s, &c->rope.scaling))
        rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "mlp")) && genc_mlp_parse(s, &c->mlp)) rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "cond")) && genc_cond_parse(s, &c->cond)) rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "norm"))) {
        if (strcmp(s, "rms") == 0) c->norm_rms = 1;
        else if (strcmp(s, "layer") == 0) c->norm_rms = 0;
        else rc = genc_set_error("config: unknown norm '%s'", s);
    }
    /* Legacy: SEDD checkpoints written before the conditioning path say "time_cond": true for
     * what is now cond = "add" (the noise-level embedding added to every token). */
    if (rc == GENC_OK && time_cond) {
        if (get_str(o, "cond") && c->cond != GENC_COND_ADD)
            rc = genc_set_error("config: legacy \"time_cond\" contradicts \"cond\": \"%s\"", genc_cond_name(c->cond));
        else c->cond = GENC_COND_ADD;
    }
    cJSON_Delete(o);
    if (rc == GENC_OK) rc = genc_tf_config_validate(c);
    return rc;
}
