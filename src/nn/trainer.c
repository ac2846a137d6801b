/* The trainer's state and one step: the shared run configuration and its JSON, AdamW with the
 * family's decay groups, the EMA, the three RNG streams, save and exact resume. The loop that
 * drives it (budget, progress, metrics, signals) is train_run.c. */
#include "genc/train.h"

#include <cjson/cJSON.h>
#include <zlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc/dist.h"
#include "nn/json_get.h"

void genc_train_cfg_default(genc_train_cfg *t) {
    memset(t, 0, sizeof *t);
    t->batch = 8;
    t->steps = 2000;
    t->warmup = 100;
    t->lr = 2e-3f;
    t->min_lr = 2e-4f;
    t->schedule = GENC_LR_COSINE;
    t->weight_decay = 0.1f;
    t->clip = 1.0f;
    t->beta1 = 0.9f;
    t->beta2 = 0.95f;
    t->eps = 1e-8f;
    t->seed = 1;
    t->ema = 0.f;
    t->ema_warmup = 1;
}

#define MAX_STEPS 1e12 /* --steps' upper bound: exactly representable in JSON */

int genc_train_cfg_validate(const genc_train_cfg *t) {
    if (t->batch < 1 || t->batch > 65536) return genc_set_error("--batch %d out of range [1, 65536]", t->batch);
    if (t->steps < 1 || t->steps > (int64_t)MAX_STEPS) return genc_set_error("--steps must be in [1, 1e12]");
    if (t->warmup < 0 || t->warmup > (int64_t)MAX_STEPS) return genc_set_error("--warmup must be in [0, 1e12]");
    if (!(t->lr > 0 && t->lr < 10)) return genc_set_error("--lr %g must be in (0, 10)", t->lr);
    if (!(t->min_lr >= 0 && t->min_lr <= t->lr)) return genc_set_error("--min-lr %g must be in [0, lr]", t->min_lr);
    if (t->schedule != GENC_LR_COSINE && t->schedule != GENC_LR_CONSTANT) return genc_set_error("unknown schedule");
    if (!(t->weight_decay >= 0 && t->weight_decay < 10)) return genc_set_error("--weight-decay %g out of range [0, 10)", t->weight_decay);
    if (!(t->clip >= 0 && t->clip <= 1e9f)) return genc_set_error("--clip %g must be in [0, 1e9] (0 disables)", t->clip);
    if (!(t->beta1 >= 0 && t->beta1 < 1 && t->beta2 >= 0 && t->beta2 < 1)) return genc_set_error("betas must be in [0, 1)");
    if (!(t->eps > 0 && t->eps < 1)) return genc_set_error("AdamW eps %g must be in (0, 1)", t->eps);
    if (!(t->ema >= 0 && t->ema < 1)) return genc_set_error("--ema %g must be in [0, 1) (0: no EMA)", t->ema);
    if (t->ema_warmup != 0 && t->ema_warmup != 1) return genc_set_error("EMA warm-up must be 0 or 1");
    return GENC_OK;
}

/* "train": the family's keys, then the shared ones (malloc'd string). */
static char *train_json(const genc_train_cfg *t, const genc_train_family *fam) {
    char *fj = fam->train_json ? fam->train_json(fam->self) : NULL;
    cJSON *o = fj ? cJSON_Parse(fj) : NULL;
    free(fj);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, t->seed);
    cJSON_AddNumberToObject(o, "batch", t->batch);
    cJSON_AddNumberToObject(o, "steps", (double)t->steps);
    cJSON_AddNumberToObject(o, "warmup", (double)t->warmup);
    cJSON_AddNumberToObject(o, "lr", genc_json_float(t->lr));
    cJSON_AddNumberToObject(o, "min_lr", genc_json_float(t->min_lr));
    cJSON_AddStringToObject(o, "schedule", t->schedule == GENC_LR_CONSTANT ? "constant" : "cosine");
    cJSON_AddNumberToObject(o, "weight_decay", genc_json_float(t->weight_decay));
    cJSON_AddNumberToObject(o, "clip", genc_json_float(t->clip));
    cJSON_AddNumberToObject(o, "beta1", genc_json_float(t->beta1));
    cJSON_AddNumberToObject(o, "beta2", genc_json_float(t->beta2));
    cJSON_AddNumberToObject(o, "eps", genc_json_float(t->eps));
    cJSON_AddStringToObject(o, "seed", seed);
    cJSON_AddNumberToObject(o, "ema", genc_json_float(t->ema));
    cJSON_AddBoolToObject(o, "ema_warmup", t->ema_warmup != 0);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* The shared keys of "train" (a genc-1 file has all but "ema" and "ema_warmup", a genc-2 file
 * written before the EMA warm-up all but "ema_warmup"; absent keys keep defaults, except that
 * a file without "ema_warmup" keeps the constant decay it was trained with). */
int genc_train_cfg_from_json(const char *json, genc_train_cfg *t) {
    genc_train_cfg_default(t);
    t->ema_warmup = 0;
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return genc_set_error("\"train\" metadata is missing or not a JSON object");
    }
    const char *w = "train metadata", *sched = NULL;
    const cJSON *warm = cJSON_GetObjectItemCaseSensitive(o, "ema_warmup");
    if (warm && !cJSON_IsBool(warm)) {
        cJSON_Delete(o);
        return genc_set_error("%s: \"ema_warmup\" must be true or false", w);
    }
    if (warm) t->ema_warmup = cJSON_IsTrue(warm);
    int rc = genc_json_get_int(o, w, "batch", 1, 65536, &t->batch) ||
             genc_json_get_i64(o, w, "steps", 1, (int64_t)MAX_STEPS, &t->steps) ||
             genc_json_get_i64(o, w, "warmup", 0, (int64_t)MAX_STEPS, &t->warmup) ||
             genc_json_get_f32(o, w, "lr", 0, 10, &t->lr) || genc_json_get_f32(o, w, "min_lr", 0, 10, &t->min_lr) ||
             genc_json_get_f32(o, w, "weight_decay", 0, 10, &t->weight_decay) ||
             genc_json_get_f32(o, w, "clip", 0, 1e9, &t->clip) || genc_json_get_f32(o, w, "beta1", 0, 1, &t->beta1) ||
             genc_json_get_f32(o, w, "beta2", 0, 1, &t->beta2) || genc_json_get_f32(o, w, "eps", 0, 1, &t->eps) ||
             genc_json_get_f32(o, w, "ema", 0, 1, &t->ema) || genc_json_get_u64str(o, w, "seed", &t->seed) ||
             genc_json_get_str(o, w, "schedule", &sched);
    if (rc == GENC_OK && sched) {
        if (strcmp(sched, "cosine") == 0) t->schedule = GENC_LR_COSINE;
        else if (strcmp(sched, "constant") == 0) t->schedule = GENC_LR_CONSTANT;
        else rc = genc_set_error("%s: unknown schedule '%s'", w, sched);
    }
    cJSON_Delete(o);
    if (rc == GENC_OK && genc_train_cfg_validate(t)) rc = genc_wrap_error("%s", w);
    return rc ? GENC_ERR : GENC_OK;
}

static void rng_str(const genc_rng *r, char *buf, size_t cap) {
    snprintf(buf, cap, "%" PRIu64 " %" PRIu64 " %" PRIu64, r->seed, r->stream, r->counter);
}

static int rng_parse(const genc_st_file *f, const char *key, genc_rng *r) {
    const char *s = genc_st_meta(f, key);
    char tail;
    if (!s || sscanf(s, "%" SCNu64 " %" SCNu64 " %" SCNu64 "%c", &r->seed, &r->stream, &r->counter, &tail) != 3)
        return genc_set_error("checkpoint metadata \"%s\": missing or not \"seed stream counter\"", key);
    return GENC_OK;
}

static int adamw_for(genc_trainer *t, const genc_train_family *fam) {
    genc_params *ps = fam->params;
    uint8_t *decay = calloc((size_t)(ps->n ? ps->n : 1), 1);
    if (!decay) return genc_set_error("out of memory");
    for (int i = 0; i < ps->n && fam->decays; i++) decay[i] = (uint8_t)(fam->decays(ps->list[i], fam->self) != 0);
    int rc = genc_adamw_init_groups(&t->opt, ps, t->cfg.beta1, t->cfg.beta2, t->cfg.eps, t->cfg.weight_decay, decay);
    free(decay);
    if (rc == GENC_OK && t->cfg.ema > 0 && (rc = genc_ema_init(&t->ema, ps, t->cfg.ema)) == GENC_OK)
        t->ema.warmup = t->cfg.ema_warmup;
    return rc;
}

int genc_trainer_init(genc_trainer *t, const genc_train_family *fam, const genc_train_cfg *cfg) {
    memset(t, 0, sizeof *t);
    if (genc_train_cfg_validate(cfg)) return GENC_ERR;
    t->cfg = *cfg;
    t->ps = fam->params;
    t->rng_data = genc_rng_make(cfg->seed, 1);
    t->rng_dropout = genc_rng_make(cfg->seed, 2);
    t->rng_noise = genc_rng_make(cfg->seed, 3);
    if (adamw_for(t, fam)) {
        genc_trainer_free(t);
        return GENC_ERR;
    }
    return GENC_OK;
}

/* Under MPI every rank must continue from the same file: its size and CRC-32 are compared
 * over the ranks (maximum of k and of −k: equal on every rank iff both agree) before anything
 * trains. A rank that cannot read its file at all fails alone, and the launcher ends the job. */
static int same_checkpoint_everywhere(const genc_st_file *f) {
    if (genc_dist_size() == 1) return GENC_OK;
    uint32_t crc = (uint32_t)crc32_z(0L, f->buffer, f->size);
    int64_t k = ((int64_t)(f->size & 0x3fffffff) << 32) | crc, v[2] = {k, -k};
    if (genc_dist_allreduce_max_i64(v, 2)) return GENC_ERR;
    if (v[0] != -v[1])
        return genc_set_error("the checkpoint differs between the ranks (rank %d has %zu bytes, CRC-32 %08x): every rank "
                              "must resume the same file, from a shared folder or an identical copy",
                              genc_dist_rank(), f->size, crc);
    return GENC_OK;
}

int genc_trainer_resume(genc_trainer *t, const genc_train_family *fam, const genc_st_file *f) {
    memset(t, 0, sizeof *t);
    t->ps = fam->params;
    if (same_checkpoint_everywhere(f)) return GENC_ERR;
    const char *step = genc_st_meta(f, "step");
    char *end = NULL;
    if (genc_train_cfg_from_json(genc_st_meta(f, "train"), &t->cfg)) return GENC_ERR;
    long long s = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || s < 0 || s > (long long)MAX_STEPS)
        return genc_set_error("checkpoint metadata \"step\" is missing or not a step count");
    t->step = s;
    if (rng_parse(f, "rng_data", &t->rng_data) || rng_parse(f, "rng_dropout", &t->rng_dropout) ||
        rng_parse(f, "rng_noise", &t->rng_noise))
        return GENC_ERR;
    if (adamw_for(t, fam) || genc_checkpoint_load_params(f, t->ps, &t->opt, &t->ema)) {
        genc_trainer_free(t);
        return GENC_ERR;
    }
    t->opt.t = t->step;
    t->ema.t = t->step; /* the EMA's decay depends on the step alone: resume stays exact */
    return GENC_OK;
}

void genc_trainer_continue(genc_trainer *t, int64_t steps, const genc_run_opts *run) {
    if (steps > 0) t->cfg.steps = steps;
    genc_run_message(run, "resuming %s at step %lld of %lld", run->out_dir, (long long)t->step,
                     (long long)t->cfg.steps);
}

void genc_trainer_free(genc_trainer *t) {
    free(t->bucket);
    genc_adamw_free(&t->opt);
    genc_ema_free(&t->ema);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- data parallelism */

int genc_trainer_check_ranks(const genc_train_cfg *cfg) {
    int N = genc_dist_size();
    if (N > 1 && cfg->batch % N)
        return genc_set_error("--batch %d is the global batch and must divide evenly over the %d ranks "
                              "(e.g. --batch %d)", cfg->batch, N, (cfg->batch / N + 1) * N);
    return GENC_OK;
}

/* The gradient all-reduce: the sum over ranks of each rank's gradient of its mean loss, × 1/N,
 * is the gradient of the global batch's mean loss. Small tensors travel packed into one
 * bucket of GENC_DIST_BUCKET floats (one message instead of one per bias); a tensor of a
 * bucket's size or more goes in place, in bucket-sized pieces. */
static int reduce_grads(genc_params *ps, void *user) {
    genc_trainer *t = user;
    int N = genc_dist_size();
    int64_t fill = 0;
    int first = 0; /* the first tensor packed in the bucket */
    for (int i = 0; i <= ps->n; i++) {
        genc_tensor *p = i < ps->n ? ps->list[i] : NULL;
        if (fill > 0 && (!p || fill + p->n > GENC_DIST_BUCKET)) { /* flush */
            if (genc_dist_allreduce_sum(t->bucket, fill)) return GENC_ERR;
            int64_t off = 0;
            for (int j = first; j < i; j++) {
                if (ps->list[j]->n >= GENC_DIST_BUCKET) continue;
                memcpy(ps->list[j]->grad, t->bucket + off, sizeof(float) * (size_t)ps->list[j]->n);
                off += ps->list[j]->n;
            }
            fill = 0;
        }
        if (!p) break;
        if (p->n >= GENC_DIST_BUCKET) {
            if (genc_dist_allreduce_sum(p->grad, p->n)) return GENC_ERR;
            continue;
        }
        if (fill == 0) first = i;
        memcpy(t->bucket + fill, p->grad, sizeof(float) * (size_t)p->n);
        fill += p->n;
    }
    float inv = 1.0f / (float)N;
    for (int i = 0; i < ps->n; i++) {
        float *g = ps->list[i]->grad;
        for (int64_t j = 0; j < ps->list[i]->n; j++) g[j] *= inv;
    }
    return GENC_OK;
}

int genc_trainer_step(genc_trainer *t, const genc_train_family *fam, genc_ctx *c, float lr, float *loss,
                      float *grad_norm) {
    long long at = (long long)t->step + 1;
    int N = genc_dist_size(), B = t->cfg.batch;
    if (genc_trainer_check_ranks(&t->cfg)) return GENC_ERR;
    if (N > 1 && !t->bucket && !(t->bucket = malloc(sizeof(float) * GENC_DIST_BUCKET)))
        return genc_set_error("out of memory");
    if (fam->batch(fam->self, &t->rng_data)) return genc_wrap_error("step %lld: next batch", at);
    genc_ctx_reset(c);
    c->rng = t->rng_dropout;
    if (N > 1) genc_ctx_set_share(c, genc_dist_rank() * (B / N), B / N, B);
    genc_tensor *l = fam->loss(c, fam->self, &t->rng_noise);
    if (!l) return genc_wrap_error("step %lld", at);
    /* the reported and checked loss is the mean of the ranks' means: the global batch's mean
     * (the same value on every rank, so every rank takes the same branch) */
    double lsum = l->data[0];
    if (N > 1 && genc_dist_allreduce_sum_f64(&lsum, 1)) return GENC_ERR;
    float lv = N > 1 ? (float)(lsum / N) : l->data[0];
    if (loss) *loss = lv;
    if (genc_optim_step_reduced(c, l, lv, N > 1 ? reduce_grads : NULL, t, &t->opt, lr, t->cfg.clip, grad_norm)) {
        char why[256];
        snprintf(why, sizeof why, "%s", genc_error());
        return genc_set_error("step %lld: %s (lower --lr, raise --warmup or lower --clip)", at, why);
    }
    t->rng_dropout = c->rng;
    genc_ema_update(&t->ema);
    t->step++;
    return GENC_OK;
}

int genc_trainer_save(const genc_trainer *t, const genc_train_family *fam, const char *path) {
    char fmt[32], step[32], r1[96], r2[96], r3[96];
    snprintf(fmt, sizeof fmt, "genc-%d", GENC_CHECKPOINT_VERSION);
    snprintf(step, sizeof step, "%" PRId64, t->step);
    rng_str(&t->rng_data, r1, sizeof r1);
    rng_str(&t->rng_dropout, r2, sizeof r2);
    rng_str(&t->rng_noise, r3, sizeof r3);
    char *cfg = fam->config_json ? fam->config_json(fam->self) : NULL, *tr = train_json(&t->cfg, fam);
    genc_st_kv *meta = calloc((size_t)(8 + fam->n_meta), sizeof *meta);
    int rc = GENC_ERR;
    if (!cfg || !tr || !meta) {
        genc_set_error("out of memory");
        goto done;
    }
    genc_st_kv base[8] = {{"format", fmt}, {"family", (char *)fam->name}, {"config", cfg}, {"train", tr},
                          {"step", step}, {"rng_data", r1}, {"rng_dropout", r2}, {"rng_noise", r3}};
    memcpy(meta, base, sizeof base);
    for (int i = 0; i < fam->n_meta; i++) meta[8 + i] = fam->meta[i];
    rc = genc_checkpoint_save(path, t->ps, &t->opt, &t->ema, meta, 8 + fam->n_meta);
done:
    free(cfg);
    free(tr);
    free(meta);
    return rc;
}
