/* Transformer config as JSON: the "config" entry of a checkpoint's metadata.
 * Keys are documented in docs/checkpoint-format.md. */
#include "genc/nn.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    cJSON_AddBoolToObject(o, "time_cond", c->time_cond);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int get_int(cJSON *o, const char *k, int *dst, int required) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it) return required ? genc_set_error("config: missing \"%s\"", k) : GENC_OK;
    if (cJSON_IsBool(it)) { *dst = cJSON_IsTrue(it); return GENC_OK; }
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int)it->valuedouble)
        return genc_set_error("config: \"%s\" must be an integer", k);
    *dst = (int)it->valuedouble;
    return GENC_OK;
}

static int get_float(cJSON *o, const char *k, float *dst) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it) return GENC_OK;
    if (!cJSON_IsNumber(it)) return genc_set_error("config: \"%s\" must be a number", k);
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
    int rc = GENC_OK;
    const char *s;
    if (get_int(o, "vocab", &c->vocab, 1) || get_int(o, "dim", &c->dim, 1) ||
        get_int(o, "layers", &c->layers, 1) || get_int(o, "heads", &c->heads, 1) ||
        get_int(o, "mlp_hidden", &c->mlp_hidden, 0) || get_int(o, "max_pos", &c->max_pos, 0) ||
        get_int(o, "causal", &c->causal, 0) || get_int(o, "rope_trained_len", &c->rope.trained_len, 0) ||
        get_int(o, "t5_buckets", &c->t5_buckets, 0) || get_int(o, "t5_max_distance", &c->t5_max_distance, 0) ||
        get_int(o, "bias", &c->bias, 0) || get_int(o, "tie_embeddings", &c->tie_embeddings, 0) || get_int(o, "time_cond", &c->time_cond, 0) ||
        get_float(o, "rope_base", &c->rope.base) || get_float(o, "rope_factor", &c->rope.factor) ||
        get_float(o, "norm_eps", &c->norm_eps) || get_float(o, "dropout", &c->dropout) ||
        get_float(o, "init_std", &c->init_std))
        rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "pos")) && genc_pos_parse(s, &c->pos)) rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "rope_scaling")) && genc_rope_scaling_parse(s, &c->rope.scaling))
        rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "mlp")) && genc_mlp_parse(s, &c->mlp)) rc = GENC_ERR;
    if (rc == GENC_OK && (s = get_str(o, "norm"))) {
        if (strcmp(s, "rms") == 0) c->norm_rms = 1;
        else if (strcmp(s, "layer") == 0) c->norm_rms = 0;
        else rc = genc_set_error("config: unknown norm '%s'", s);
    }
    cJSON_Delete(o);
    if (rc == GENC_OK) rc = genc_tf_config_validate(c);
    return rc;
}
