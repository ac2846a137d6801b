/* Language-model runs: training configuration, checkpoint save and load.
 * Checkpoint metadata keys (docs/checkpoint-format.md):
 *   format "genc-1", family "lm", objective, config (model JSON), train (run JSON), step,
 *   rng_data and rng_dropout ("seed stream counter"). */
#include "genc/lm.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *OBJ_NAMES[GENC_OBJ_COUNT] = {"ar", "mdlm", "llada", "bd3", "sedd-absorb", "sedd-uniform"};

const char *genc_objective_name(genc_lm_objective o) { return (unsigned)o < GENC_OBJ_COUNT ? OBJ_NAMES[o] : "?"; }

int genc_objective_parse(const char *s, genc_lm_objective *o) {
    for (int i = 0; i < GENC_OBJ_COUNT; i++)
        if (strcmp(s, OBJ_NAMES[i]) == 0) { *o = (genc_lm_objective)i; return GENC_OK; }
    return genc_set_error("unknown objective '%s' (choose ar, mdlm, llada, bd3, sedd-absorb, sedd-uniform)", s);
}

int genc_objective_is_diffusion(genc_lm_objective o) { return o != GENC_OBJ_AR; }

void genc_lm_train_cfg_default(genc_lm_train_cfg *t) {
    memset(t, 0, sizeof *t);
    t->objective = GENC_OBJ_AR;
    t->seq = 256;
    t->batch = 8;
    t->steps = 2000;
    t->lr = 2e-3f;
    t->min_lr = 2e-4f;
    t->weight_decay = 0.1f;
    t->clip = 1.0f;
    t->beta1 = 0.9f;
    t->beta2 = 0.95f;
    t->eps = 1e-8f;
    t->warmup = 100;
    t->schedule = GENC_LR_COSINE;
    t->seed = 1;
    t->block = 4;
    t->t_lo = 0.f;
    t->t_hi = 1.f;
}

int genc_lm_train_cfg_validate(const genc_lm_train_cfg *t) {
    if (t->seq < 2 || t->seq > 65536) return genc_set_error("--seq %d out of range [2, 65536]", t->seq);
    if (t->batch < 1 || t->batch > 65536) return genc_set_error("--batch %d out of range [1, 65536]", t->batch);
    if (t->steps < 1) return genc_set_error("--steps must be at least 1");
    if (!(t->lr > 0 && t->lr < 10)) return genc_set_error("--lr %g must be in (0, 10)", t->lr);
    if (!(t->min_lr >= 0 && t->min_lr <= t->lr)) return genc_set_error("min lr %g must be in [0, lr]", t->min_lr);
    if (!(t->weight_decay >= 0 && t->weight_decay < 10)) return genc_set_error("--weight-decay %g out of range", t->weight_decay);
    if (!(t->clip >= 0)) return genc_set_error("--clip %g must be >= 0 (0 disables)", t->clip);
    if (t->warmup < 0) return genc_set_error("--warmup must be >= 0");
    if (!(t->beta1 >= 0 && t->beta1 < 1 && t->beta2 >= 0 && t->beta2 < 1)) return genc_set_error("betas must be in [0, 1)");
    if ((unsigned)t->objective >= GENC_OBJ_COUNT) return genc_set_error("unknown objective");
    if (t->objective == GENC_OBJ_BD3 && (t->block < 1 || t->seq % t->block))
        return genc_set_error("--block %d must be positive and divide --seq %d", t->block, t->seq);
    if (!(t->t_lo >= 0 && t->t_lo < t->t_hi && t->t_hi <= 1))
        return genc_set_error("--clip-schedule %g,%g must satisfy 0 <= LO < HI <= 1", t->t_lo, t->t_hi);
    return GENC_OK;
}

static char *train_to_json(const genc_lm_train_cfg *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "objective", genc_objective_name(t->objective));
    cJSON_AddStringToObject(o, "data", t->data);
    cJSON_AddNumberToObject(o, "seq", t->seq);
    cJSON_AddNumberToObject(o, "batch", t->batch);
    cJSON_AddNumberToObject(o, "steps", (double)t->steps);
    cJSON_AddNumberToObject(o, "lr", genc_json_float(t->lr));
    cJSON_AddNumberToObject(o, "min_lr", genc_json_float(t->min_lr));
    cJSON_AddNumberToObject(o, "weight_decay", genc_json_float(t->weight_decay));
    cJSON_AddNumberToObject(o, "clip", genc_json_float(t->clip));
    cJSON_AddNumberToObject(o, "beta1", genc_json_float(t->beta1));
    cJSON_AddNumberToObject(o, "beta2", genc_json_float(t->beta2));
    cJSON_AddNumberToObject(o, "eps", genc_json_float(t->eps));
    cJSON_AddNumberToObject(o, "warmup", (double)t->warmup);
    cJSON_AddStringToObject(o, "schedule", t->schedule == GENC_LR_CONSTANT ? "constant" : "cosine");
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, t->seed);
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddNumberToObject(o, "block", t->block);
    cJSON_AddNumberToObject(o, "t_lo", genc_json_float(t->t_lo));
    cJSON_AddNumberToObject(o, "t_hi", genc_json_float(t->t_hi));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int train_from_json(const char *json, genc_lm_train_cfg *t) {
    genc_lm_train_cfg_default(t);
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) { cJSON_Delete(o); return genc_set_error("train metadata is not a JSON object"); }
    cJSON *it;
    int rc = GENC_OK;
#define NUM(key, dst, type)                                                                      \
    if ((it = cJSON_GetObjectItemCaseSensitive(o, key))) {                                       \
        if (!cJSON_IsNumber(it)) rc = genc_set_error("train metadata: \"%s\" must be a number", key); \
        else dst = (type)it->valuedouble;                                                        \
    }
    NUM("seq", t->seq, int) NUM("batch", t->batch, int) NUM("steps", t->steps, int64_t)
    NUM("lr", t->lr, float) NUM("min_lr", t->min_lr, float) NUM("weight_decay", t->weight_decay, float)
    NUM("clip", t->clip, float) NUM("beta1", t->beta1, float) NUM("beta2", t->beta2, float)
    NUM("eps", t->eps, float) NUM("warmup", t->warmup, int64_t) NUM("block", t->block, int)
    NUM("t_lo", t->t_lo, float) NUM("t_hi", t->t_hi, float)
#undef NUM
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "objective")) && cJSON_IsString(it) &&
        genc_objective_parse(it->valuestring, &t->objective))
        rc = GENC_ERR;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "data")) && cJSON_IsString(it))
        snprintf(t->data, sizeof t->data, "%s", it->valuestring);
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "schedule")) && cJSON_IsString(it))
        t->schedule = strcmp(it->valuestring, "constant") == 0 ? GENC_LR_CONSTANT : GENC_LR_COSINE;
    if ((it = cJSON_GetObjectItemCaseSensitive(o, "seed")) && cJSON_IsString(it))
        t->seed = strtoull(it->valuestring, NULL, 10);
    cJSON_Delete(o);
    if (rc == GENC_OK) rc = genc_lm_train_cfg_validate(t);
    return rc;
}

static void rng_str(const genc_rng *r, char *buf, size_t cap) {
    snprintf(buf, cap, "%" PRIu64 " %" PRIu64 " %" PRIu64, r->seed, r->stream, r->counter);
}

static int rng_parse(const char *s, genc_rng *r) {
    if (!s || sscanf(s, "%" SCNu64 " %" SCNu64 " %" SCNu64, &r->seed, &r->stream, &r->counter) != 3)
        return genc_set_error("checkpoint metadata: bad RNG state");
    return GENC_OK;
}

void genc_lm_checkpoint_path(const char *p, char *out, size_t cap) {
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, cap, "%s/model.safetensors", p);
    else snprintf(out, cap, "%s", p);
}

int genc_lm_save(const char *path, const genc_lm *lm) {
    char *cfg = genc_tf_config_to_json(&lm->model.cfg), *tr = train_to_json(&lm->train);
    char step[32], r1[96], r2[96], r3[96];
    snprintf(step, sizeof step, "%" PRId64, lm->step);
    rng_str(&lm->data_rng, r1, sizeof r1);
    rng_str(&lm->drop_rng, r2, sizeof r2);
    rng_str(&lm->noise_rng, r3, sizeof r3);
    genc_st_kv meta[] = {
        {"format", "genc-1"}, {"family", "lm"}, {"objective", (char *)genc_objective_name(lm->train.objective)},
        {"config", cfg}, {"train", tr}, {"step", step}, {"rng_data", r1}, {"rng_dropout", r2}, {"rng_noise", r3},
    };
    int rc = genc_checkpoint_save(path, &lm->model.params, lm->has_opt ? &lm->opt : NULL, meta,
                                  (int)(sizeof meta / sizeof meta[0]));
    free(cfg);
    free(tr);
    return rc;
}

int genc_lm_load(const char *dir_or_file, genc_lm *lm, int with_opt) {
    char path[4096];
    memset(lm, 0, sizeof *lm);
    genc_lm_checkpoint_path(dir_or_file, path, sizeof path);
    genc_st_file f;
    if (genc_st_read(path, &f) != GENC_OK) return GENC_ERR;
    int rc = GENC_ERR;
    const char *fam = genc_st_meta(&f, "family"), *cfgs = genc_st_meta(&f, "config");
    const char *tr = genc_st_meta(&f, "train"), *step = genc_st_meta(&f, "step");
    genc_tf_config cfg;
    if (!fam || strcmp(fam, "lm") != 0 || !cfgs || !tr || !step) {
        genc_set_error("%s: not a genc language-model checkpoint (missing family/config/train/step metadata)", path);
        goto done;
    }
    if (genc_tf_config_from_json(cfgs, &cfg) || train_from_json(tr, &lm->train)) {
        genc_wrap_error("%s", path);
        goto done;
    }
    if (genc_lm_model_init(lm, &cfg, 0)) goto done;
    if (with_opt) {
        if (genc_adamw_init(&lm->opt, &lm->model.params, lm->train.beta1, lm->train.beta2, lm->train.eps,
                            lm->train.weight_decay))
            goto done;
        lm->has_opt = 1;
    }
    if (genc_checkpoint_load_params(&f, &lm->model.params, with_opt ? &lm->opt : NULL)) {
        genc_wrap_error("%s", path);
        goto done;
    }
    char *end;
    lm->step = strtoll(step, &end, 10);
    if (*end || lm->step < 0) { genc_set_error("%s: bad step '%s'", path, step); goto done; }
    lm->opt.t = lm->step;
    if (rng_parse(genc_st_meta(&f, "rng_data"), &lm->data_rng) ||
        rng_parse(genc_st_meta(&f, "rng_dropout"), &lm->drop_rng) ||
        rng_parse(genc_st_meta(&f, "rng_noise"), &lm->noise_rng)) {
        genc_wrap_error("%s", path);
        goto done;
    }
    rc = GENC_OK;
done:
    genc_st_free(&f);
    if (rc != GENC_OK) genc_lm_free(lm);
    return rc;
}

void genc_lm_free(genc_lm *lm) {
    if (lm->has_opt) genc_adamw_free(&lm->opt);
    genc_transformer_free(&lm->model);
    memset(lm, 0, sizeof *lm);
}
