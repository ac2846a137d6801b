/* Language models as a family of the trainer: the run configuration and its JSON, sizes from
 * a configuration, and loading a checkpoint (family "lm"; keys in docs/checkpoint-format.md). */
#include "genc/lm.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/json_get.h"

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
    t->block = 4;
    t->t_lo = 0.f;
    t->t_hi = 1.f;
    genc_train_cfg_default(&t->common);
}

/* The LM's own keys; the shared ones are the trainer's. */
static int lm_keys_validate(const genc_lm_train_cfg *t) {
    if (t->seq < 2 || t->seq > 65536) return genc_set_error("--seq %d out of range [2, 65536]", t->seq);
    if ((unsigned)t->objective >= GENC_OBJ_COUNT) return genc_set_error("unknown objective");
    if (t->objective == GENC_OBJ_BD3 && (t->block < 1 || t->seq % t->block))
        return genc_set_error("--block %d must be positive and divide --seq %d", t->block, t->seq);
    if (!(t->t_lo >= 0 && t->t_lo < t->t_hi && t->t_hi <= 1))
        return genc_set_error("--clip-schedule %g,%g must satisfy 0 <= LO < HI <= 1", t->t_lo, t->t_hi);
    return GENC_OK;
}

int genc_lm_train_cfg_validate(const genc_lm_train_cfg *t) {
    return lm_keys_validate(t) || genc_train_cfg_validate(&t->common) ? GENC_ERR : GENC_OK;
}

char *genc_lm_train_json(const genc_lm_train_cfg *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "objective", genc_objective_name(t->objective));
    cJSON_AddStringToObject(o, "data", t->data);
    cJSON_AddNumberToObject(o, "seq", t->seq);
    cJSON_AddNumberToObject(o, "block", t->block);
    cJSON_AddNumberToObject(o, "t_lo", genc_json_float(t->t_lo));
    cJSON_AddNumberToObject(o, "t_hi", genc_json_float(t->t_hi));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* "train": the LM's keys and the shared ones, validated. */
static int train_from_json(const char *json, genc_lm_train_cfg *t) {
    genc_lm_train_cfg_default(t);
    if (genc_train_cfg_from_json(json, &t->common)) return GENC_ERR;
    cJSON *o = cJSON_Parse(json);
    const char *w = "train metadata", *obj = NULL, *data = NULL;
    int rc = genc_json_get_int(o, w, "seq", 2, 65536, &t->seq) || genc_json_get_int(o, w, "block", 1, 65536, &t->block) ||
             genc_json_get_f32(o, w, "t_lo", 0, 1, &t->t_lo) || genc_json_get_f32(o, w, "t_hi", 0, 1, &t->t_hi) ||
             genc_json_get_str(o, w, "objective", &obj) || genc_json_get_str(o, w, "data", &data);
    if (rc == GENC_OK && obj && genc_objective_parse(obj, &t->objective)) rc = genc_wrap_error("%s", w);
    if (rc == GENC_OK && data) snprintf(t->data, sizeof t->data, "%s", data);
    cJSON_Delete(o);
    if (rc == GENC_OK && lm_keys_validate(t)) rc = genc_wrap_error("%s", w);
    return rc ? GENC_ERR : GENC_OK;
}

/* Every tensor genc_lm_model_init registers (docs/checkpoint-format.md), counted: the backbone,
 * plus SEDD's noise-level embedding (two D×D layers with biases). */
double genc_lm_param_count(const genc_tf_config *c) {
    double D = c->dim;
    return (double)genc_tf_param_count(c) + (c->cond == GENC_COND_ADD ? 2 * (D * D + D) : 0);
}

/* What the autograd tape holds during one step, roughly: per token and layer the norm outputs,
 * q, k, v, attention output, projections and residuals (~10·D floats) and the MLP's pre- and
 * post-activation (~3·hidden), as much again for their gradients; per token the logits, their
 * softmax and gradient (3·vocab). An estimate for refusing runs that cannot fit, not a bound. */
double genc_lm_activation_bytes(const genc_tf_config *c, int B, int T) {
    double H = genc_tf_mlp_hidden(c), fc1 = c->mlp == GENC_MLP_SWIGLU ? 2 * H : H, tokens = (double)B * T;
    return 4.0 * tokens * (2.0 * c->layers * (10.0 * c->dim + 3.0 * fc1) + 3.0 * c->vocab);
}

/* What the lm family requires of a backbone, beyond the backbone's own validation: the byte
 * tokenizer's vocabulary (the samplers index GENC_VOCAB-long rows; the data holds ids up to
 * GENC_VOCAB - 1), attention that matches the objective (causal for ar, bidirectional for
 * diffusion), the noise-level conditioning exactly when the objective is SEDD, and none of the
 * other families' parts (cross-attention, a class token, 2D positions). A checkpoint is
 * untrusted: a file that breaks one of these would crash or silently compute something else. */
int genc_lm_config_check(const genc_tf_config *c, const genc_lm_train_cfg *t) {
    const char *obj = genc_objective_name(t->objective);
    int sedd = t->objective == GENC_OBJ_SEDD_ABSORB || t->objective == GENC_OBJ_SEDD_UNIFORM;
    if (c->vocab != GENC_VOCAB)
        return genc_set_error("vocab %d: language models use the byte tokenizer's %d tokens", c->vocab, GENC_VOCAB);
    if (c->causal != !genc_objective_is_diffusion(t->objective))
        return genc_set_error("objective %s needs %s attention (config says causal = %d)", obj,
                              genc_objective_is_diffusion(t->objective) ? "bidirectional" : "causal", c->causal);
    if (c->cond != (sedd ? GENC_COND_ADD : GENC_COND_NONE))
        return genc_set_error("objective %s %s the noise-level conditioning (config says cond = %s)", obj,
                              sedd ? "needs" : "does not use", genc_cond_name(c->cond));
    if (c->cond_dim != 0 && c->cond_dim != c->dim)
        return genc_set_error("cond_dim %d: the noise-level embedding has the model width %d", c->cond_dim, c->dim);
    if (c->cross_attn || c->ctx_dim || c->cls_token || genc_pos_is_2d(c->pos))
        return genc_set_error("cross-attention, a class token and 2D positions are not part of a language model");
    if (c->pos == GENC_POS_LEARNED && c->max_pos < t->seq)
        return genc_set_error("learned positions: table of %d is shorter than the training length %d", c->max_pos, t->seq);
    return GENC_OK;
}

int genc_lm_from_file(const genc_st_file *f, genc_lm *lm) {
    memset(lm, 0, sizeof *lm);
    const char *cfgs, *tr;
    genc_tf_config cfg;
    if (genc_checkpoint_family_meta(f, "lm", "language-model", &cfgs, &tr, &lm->step) ||
        genc_tf_config_from_json(cfgs, &cfg) || train_from_json(tr, &lm->train) ||
        genc_lm_config_check(&cfg, &lm->train) || genc_checkpoint_check_params(f, genc_lm_param_count(&cfg)))
        return GENC_ERR;
    return genc_lm_model_init(lm, &cfg, 0);
}

int genc_lm_load_file(const genc_st_file *f, genc_lm *lm) {
    if (genc_lm_from_file(f, lm) ||
        genc_checkpoint_load_weights(f, &lm->model.params, &lm->ema_weights)) {
        genc_lm_free(lm);
        return GENC_ERR;
    }
    return GENC_OK;
}

int genc_lm_load(const char *dir_or_file, genc_lm *lm) {
    genc_st_file f;
    memset(lm, 0, sizeof *lm);
    if (genc_checkpoint_open(dir_or_file, &f)) return GENC_ERR;
    int rc = genc_lm_load_file(&f, lm);
    if (rc) {
        char path[4096];
        genc_checkpoint_path(dir_or_file, path, sizeof path);
        genc_wrap_error("%s", path);
    }
    genc_st_free(&f);
    return rc;
}

void genc_lm_progress(const genc_lm *lm, int64_t done, int64_t total) {
    if (lm->progress) lm->progress(done, total, lm->progress_user);
}

void genc_lm_free(genc_lm *lm) {
    if (lm->has_opt) genc_adamw_free(&lm->opt);
    genc_transformer_free(&lm->model);
    memset(lm, 0, sizeof *lm);
}
