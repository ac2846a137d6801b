/* The image–text model as a family of the shared trainer (genc/train.h): captioned batches of
 * training-split Fashion-MNIST images (single items and a fixed share of two-item pairs), the
 * softmax or sigmoid contrastive loss, weight decay on matrices only, and loading a
 * checkpoint back. */
#include "genc/contrastive.h"
#include "genc/dist.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIP_DATA "fashion-mnist"

void genc_clip_train_cfg_default(genc_train_cfg *c) {
    genc_train_cfg_default(c);
    c->batch = 64;
    c->steps = 1500;
    c->warmup = 100;
    c->lr = 1e-3f;
    c->min_lr = 1e-4f;
    c->weight_decay = 0.1f;
    c->beta2 = 0.98f; /* CLIP's */
}

typedef struct clip_task {
    genc_clip *m;
    genc_images train;
    float *x;      /* [B, C, H, W] */
    int32_t *ids;  /* [B, ctx] */
    int *eos;      /* [B] */
    int B, n_pairs;       /* the last n_pairs of a batch are two-item pairs */
    double pair_fraction; /* n_pairs = round(B · pair_fraction), saved with the run */
    genc_st_kv meta[1];
} clip_task;

static int task_batch(void *self, genc_rng *r) {
    clip_task *k = self;
    return genc_caption_batch_mixed(&k->train, r, k->B, k->n_pairs, k->m->cfg.ctx, -1.f, 1.f, k->x, k->ids, k->eos, NULL);
}

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    (void)noise;
    clip_task *k = self;
    const genc_clip_config *cfg = &k->m->cfg;
    /* this rank's pairs (genc/dist.h); the loss exchanges their embeddings with the others */
    int lo, nb = genc_batch_share(c, k->B, &lo);
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    genc_tensor *x = genc_wrap(c, k->x + lo * per, 4, (int[]){nb, cfg->channels, cfg->height, cfg->width});
    return genc_clip_pair_loss(c, k->m, x, k->ids + (int64_t)lo * cfg->ctx, k->eos + lo);
}

/* matrices (projections, embeddings) decay; biases, gains, the class token, the temperature
 * and the sigmoid bias do not */
static int task_decays(const genc_tensor *p, void *self) {
    (void)self;
    return p->ndim >= 2;
}

static char *task_config(void *self) { return genc_clip_config_to_json(&((clip_task *)self)->m->cfg); }
static char *task_train(void *self) {
    char buf[128];
    snprintf(buf, sizeof buf, "{\"data\": \"" CLIP_DATA "\", \"pair_fraction\": %.9g}", ((clip_task *)self)->pair_fraction);
    return strdup(buf);
}

/* the run's pair fraction from its "train" metadata; absent (runs before two-item pairs): 0 */
static int saved_pair_fraction(const genc_st_file *f, double *frac) {
    cJSON *o = cJSON_Parse(genc_st_meta(f, "train") ? genc_st_meta(f, "train") : "");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "pair_fraction");
    int rc = GENC_OK;
    *frac = 0;
    if (v && !(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1))
        rc = genc_set_error("train metadata: \"pair_fraction\" must be a number in [0, 1]");
    else if (v) *frac = v->valuedouble;
    cJSON_Delete(o);
    return rc;
}

static void set_pairs(clip_task *k, int B, double frac) {
    k->B = B;
    k->pair_fraction = frac;
    k->n_pairs = (int)(B * frac + 0.5);
}

static void task_family(genc_train_family *fam, clip_task *k) {
    k->meta[0] = (genc_st_kv){"loss", (char *)genc_clip_loss_name(k->m->cfg.loss)};
    *fam = (genc_train_family){
        .name = "clip",
        .params = &k->m->params,
        .self = k,
        .batch = task_batch,
        .loss = task_loss,
        .decays = task_decays,
        .config_json = task_config,
        .train_json = task_train,
        .meta = k->meta,
        .n_meta = 1,
        .items_per_step = k->B,
        .items = "pairs",
        .loss_scale = 1.0,
        .loss_title = k->m->cfg.loss == GENC_CLIP_SIGMOID ? "training loss (sigmoid, nats)"
                                                           : "training loss (InfoNCE, nats)",
    };
}

double genc_clip_activation_bytes(const genc_clip_config *c, int B, int text_passes) {
    double Ti = 1.0 + (double)(c->height / c->patch) * (c->width / c->patch), Tt = c->ctx;
    double per = (Ti * c->image_layers + text_passes * Tt * c->text_layers) * 20.0 * c->dim +
                 (double)c->channels * c->height * c->width;
    return 2.0 * 4.0 * B * per;
}

static int from_file(const genc_st_file *f, genc_clip *m, genc_train_cfg *tc, int64_t *step) {
    const char *cj, *tj;
    genc_clip_config cfg;
    if (genc_checkpoint_family_meta(f, "clip", "image-text model", &cj, &tj, step) ||
        genc_clip_config_from_json(cj, &cfg) || (tc && genc_train_cfg_from_json(tj, tc)) ||
        genc_checkpoint_check_params(f, (double)genc_clip_param_count(&cfg)))
        return GENC_ERR;
    return genc_clip_init(m, &cfg, 1);
}

int genc_clip_load_file(const genc_st_file *f, genc_clip *m, int64_t *step) {
    int64_t s = 0;
    int used_ema = 0;
    if (from_file(f, m, NULL, &s)) return GENC_ERR;
    if (genc_checkpoint_load_weights(f, &m->params, &used_ema)) {
        genc_clip_free(m);
        return GENC_ERR;
    }
    if (m->cfg.loss == GENC_CLIP_SOFTMAX) genc_clip_clamp_scale(m->scale);
    if (step) *step = s;
    return GENC_OK;
}

int genc_clip_train(const genc_clip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                    genc_train_result *res) {
    return genc_clip_train_pairs(cfg, tc, GENC_CLIP_PAIR_FRACTION, run, res);
}

int genc_clip_train_pairs(const genc_clip_config *cfg, const genc_train_cfg *tc, double pair_fraction,
                          const genc_run_opts *run, genc_train_result *res) {
    genc_clip m;
    clip_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&m, 0, sizeof m);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.m = &m;
    int rc = GENC_ERR;
    if (!(pair_fraction >= 0 && pair_fraction <= 1)) {
        genc_set_error("pair fraction %g is outside [0, 1]", pair_fraction);
        goto done;
    }
    if (genc_images_load(CLIP_DATA, GENC_SPLIT_TRAIN, &k.train)) {
        genc_wrap_error("data %s", CLIP_DATA);
        goto done;
    }
    if (run->resume) {
        genc_st_file f;
        genc_train_cfg saved;
        genc_clip_train_cfg_default(&saved);
        int64_t step;
        double frac = 0;
        if (genc_checkpoint_open(run->out_dir, &f)) goto done;
        rc = from_file(&f, &m, &saved, &step);
        if (rc == GENC_OK) rc = saved_pair_fraction(&f, &frac);
        if (rc == GENC_OK) rc = genc_train_preflight(run, &saved, (double)genc_clip_param_count(&m.cfg),
                                                     genc_clip_activation_bytes(&m.cfg, saved.batch, 1));
        if (rc == GENC_OK) {
            set_pairs(&k, saved.batch, frac);
            task_family(&fam, &k);
            rc = genc_trainer_resume(&tr, &fam, &f);
        }
        genc_st_free(&f);
        if (rc) {
            genc_wrap_error("--resume %s", run->out_dir);
            goto done;
        }
        rc = GENC_ERR;
        genc_trainer_continue(&tr, tc ? tc->steps : 0, run);
    } else {
        genc_clip_config mc = *cfg;
        mc.channels = k.train.channels;
        mc.height = k.train.height;
        mc.width = k.train.width;
        if (genc_clip_config_validate(&mc) || genc_train_cfg_validate(tc) ||
            genc_train_preflight(run, tc, (double)genc_clip_param_count(&mc), genc_clip_activation_bytes(&mc, tc->batch, 1)) ||
            genc_clip_init(&m, &mc, tc->seed))
            goto done;
        set_pairs(&k, tc->batch, pair_fraction);
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, tc)) goto done;
    }
    k.x = genc_aligned_alloc(sizeof(float) * (size_t)k.B * (size_t)m.cfg.channels * m.cfg.height * m.cfg.width);
    k.ids = genc_aligned_alloc(sizeof(int32_t) * (size_t)k.B * (size_t)m.cfg.ctx);
    k.eos = genc_aligned_alloc(sizeof(int) * (size_t)k.B);
    if (!k.x || !k.ids || !k.eos) {
        genc_wrap_error("training batch");
        goto done;
    }
    genc_run_message(run, "model: %s loss, %lld parameters; data: %s (%lld training images with captions; "
                     "%d of each %d pairs are two-item pairs)",
                     genc_clip_loss_name(m.cfg.loss), (long long)genc_params_count(&m.params), CLIP_DATA,
                     (long long)k.train.n, k.n_pairs, k.B);
    rc = genc_train_run(&tr, &fam, run, res);
done:
    genc_aligned_free(k.x);
    genc_aligned_free(k.ids);
    genc_aligned_free(k.eos);
    genc_images_free(&k.train);
    genc_trainer_free(&tr);
    genc_clip_free(&m);
    return rc;
}
