/* Diffusion models on the shared trainer (genc/train.h): batches of 2D toy points or images,
 * the denoising loss of genc_dmodel_loss, weight decay on matrices and convolution kernels. */
#include "genc/diffusion.h"
#include "nn/json_get.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void genc_dm_train_cfg_default(genc_dm_train_cfg *t) {
    memset(t, 0, sizeof *t);
    genc_train_cfg_default(&t->common);
    t->common.batch = 256;
    t->common.lr = 1e-3f;
    t->common.min_lr = 1e-4f;
    t->common.weight_decay = 0;
    t->common.beta2 = 0.999f;
    snprintf(t->data, sizeof t->data, "toy:checkerboard");
}

static char *train_json(const genc_dm_train_cfg *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", t->data);
    cJSON_AddNumberToObject(o, "label_dropout", genc_json_float(t->label_dropout));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int train_from_json(const char *json, genc_dm_train_cfg *t) {
    genc_dm_train_cfg_default(t);
    if (genc_train_cfg_from_json(json, &t->common)) return GENC_ERR;
    cJSON *o = cJSON_Parse(json);
    const char *data = NULL, *w = "train metadata";
    int rc = genc_json_get_str(o, w, "data", &data) || genc_json_get_f32(o, w, "label_dropout", 0, 1, &t->label_dropout);
    if (!rc && data) {
        if (strlen(data) >= sizeof t->data) rc = genc_set_error("%s: data path too long", w);
        else snprintf(t->data, sizeof t->data, "%s", data);
    }
    cJSON_Delete(o);
    return rc ? GENC_ERR : GENC_OK;
}

typedef struct task {
    genc_dmodel *m;
    genc_dm_train_cfg tc;
    int is_toy;
    genc_toy toy;
    genc_images im;
    float *x;
    int32_t *labels;
    int B;
    char title[96];
} task;

static int task_batch(void *self, genc_rng *r) {
    task *k = self;
    if (k->is_toy) genc_toy_sample(k->toy, r, k->B, k->x);
    else genc_images_batch(&k->im, r, k->B, -1, 1, k->x, k->labels);
    return GENC_OK;
}

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    task *k = self;
    return genc_dmodel_loss(c, k->m, k->x, k->m->cfg.n_classes > 0 ? k->labels : NULL, k->B, k->tc.label_dropout, noise);
}

/* rank ≥ 2 tensors decay (linear and conv weights, embedding and position tables); biases and
 * norm gains do not. The default --weight-decay of the family is 0. */
static int task_decays(const genc_tensor *p, void *self) { (void)self; return p->ndim >= 2; }
static char *task_config(void *self) { return genc_dm_config_to_json(&((task *)self)->m->cfg); }
static char *task_train(void *self) { return train_json(&((task *)self)->tc); }

static void task_family(genc_train_family *fam, task *k) {
    memset(fam, 0, sizeof *fam);
    snprintf(k->title, sizeof k->title, "training loss (%s, %s)", genc_dproc_name(k->m->cfg.process),
             genc_dpred_name(k->m->cfg.pred));
    fam->name = "diffusion";
    fam->params = &k->m->params;
    fam->self = k;
    fam->batch = task_batch;
    fam->loss = task_loss;
    fam->decays = task_decays;
    fam->config_json = task_config;
    fam->train_json = task_train;
    fam->items_per_step = k->B;
    fam->items = k->is_toy ? "points" : "images";
    fam->loss_scale = 1;
    fam->loss_title = k->title;
}

/* Activations per example, roughly: mlp ~ 8 floats per layer and unit; unet ~ 60 maps of
 * c·H·W; dit ~ 20 per token and layer of width D plus the 4D MLP. Doubled for gradients. */
static double activation_bytes(const genc_dm_config *c, int B) {
    double hw = (double)c->height * c->width, a;
    if (c->net == GENC_DNET_MLP) a = 8.0 * c->layers * c->hidden;
    else if (c->net == GENC_DNET_UNET) a = 60.0 * c->hidden * hw;
    else a = 28.0 * c->layers * c->hidden * hw / ((double)c->patch * c->patch);
    return 2 * 4.0 * B * a;
}

/* The data: the example shape, classes and, for toys, σd measured on 20 000 points. */
static int open_data(task *k, genc_dm_config *cfg, int fresh) {
    if (genc_toy_spec(k->tc.data, &k->toy, &k->is_toy)) return GENC_ERR;
    if (k->is_toy) {
        if (fresh) {
            if (cfg->n_classes > 0) return genc_set_error("--cond class needs labelled images; 2D toys have no classes");
            cfg->channels = 2;
            cfg->height = cfg->width = 1;
            enum { N = 20000 };
            float *p = malloc(sizeof(float) * N * 2);
            if (!p) return genc_set_error("out of memory");
            genc_rng r = genc_rng_make(12345, 0);
            genc_toy_sample(k->toy, &r, N, p);
            double s = 0, s2 = 0;
            for (int i = 0; i < 2 * N; i++) { s += p[i]; s2 += (double)p[i] * p[i]; }
            free(p);
            double mean = s / (2 * N);
            cfg->sigma_data = (float)sqrt(s2 / (2 * N) - mean * mean);
        }
        return GENC_OK;
    }
    const char *spec = k->tc.data;
    if (genc_images_load(spec, GENC_SPLIT_TRAIN, &k->im)) return genc_wrap_error("--data %s", spec);
    if (fresh) {
        cfg->channels = k->im.channels;
        cfg->height = k->im.height;
        cfg->width = k->im.width;
        if (cfg->n_classes > 0) {
            if (!k->im.labels || k->im.n_classes < 1) return genc_set_error("--cond class: %s has no labels", spec);
            cfg->n_classes = k->im.n_classes;
        }
        if (cfg->net == GENC_DNET_MLP && (int64_t)cfg->channels * cfg->height * cfg->width > 4096)
            return genc_set_error("--net mlp on %d×%d×%d images: use unet or dit", cfg->channels, cfg->height, cfg->width);
    } else if (k->im.channels != cfg->channels || k->im.height != cfg->height || k->im.width != cfg->width) {
        return genc_set_error("--data %s holds %d×%d×%d images; the model was trained on %d×%d×%d", spec, k->im.channels,
                              k->im.height, k->im.width, cfg->channels, cfg->height, cfg->width);
    }
    return GENC_OK;
}

int genc_dm_load_file(const genc_st_file *f, genc_dmodel *m, genc_dm_train_cfg *tc, int *used_ema) {
    memset(m, 0, sizeof *m);
    const char *fam = genc_st_meta(f, "family"), *cfgs = genc_st_meta(f, "config"), *tr = genc_st_meta(f, "train");
    if (!fam || strcmp(fam, "diffusion") != 0)
        return genc_set_error("not a diffusion checkpoint (family '%s')", fam ? fam : "none");
    if (!cfgs || !tr) return genc_set_error("diffusion checkpoint without config/train metadata");
    genc_dm_config cfg;
    if (genc_dm_config_from_json(cfgs, &cfg) || train_from_json(tr, tc)) return GENC_ERR;
    int64_t want = genc_dm_param_count(&cfg), have = genc_checkpoint_param_count(f);
    if (want != have)
        return genc_set_error("the config describes %lld parameters but the file holds %lld: config and tensors do not match",
                              (long long)want, (long long)have);
    if (genc_dmodel_init(m, &cfg, 0)) return GENC_ERR;
    int ue = 0;
    if (genc_checkpoint_load_weights(f, &m->params, &ue)) { genc_dmodel_free(m); return GENC_ERR; }
    if (used_ema) *used_ema = ue;
    return GENC_OK;
}

int genc_dm_train(const genc_dm_config *cfg_in, const genc_dm_train_cfg *tc, const genc_run_opts *run,
                  genc_train_result *res) {
    genc_dmodel m;
    task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&m, 0, sizeof m);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.m = &m;
    int rc = GENC_ERR;
    if (run->resume) {
        genc_st_file f;
        if (genc_checkpoint_open(run->out_dir, &f)) { genc_wrap_error("--resume"); goto done; }
        int r0 = genc_dm_load_file(&f, &m, &k.tc, NULL);
        if (!r0) r0 = open_data(&k, &m.cfg, 0);
        if (!r0) {
            k.B = k.tc.common.batch;
            task_family(&fam, &k);
            r0 = genc_trainer_resume(&tr, &fam, &f);
        }
        genc_st_free(&f);
        if (r0) { genc_wrap_error("--resume %s", run->out_dir); goto done; }
        genc_trainer_continue(&tr, tc ? tc->common.steps : 0, run);
    } else {
        genc_dm_config cfg = *cfg_in;
        k.tc = *tc;
        if (genc_train_cfg_validate(&tc->common) || open_data(&k, &cfg, 1) || genc_dm_config_validate(&cfg) ||
            genc_train_preflight(run, &tc->common, (double)genc_dm_param_count(&cfg), activation_bytes(&cfg, tc->common.batch)) ||
            genc_dmodel_init(&m, &cfg, tc->common.seed))
            goto done;
        k.B = tc->common.batch;
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, &tc->common)) goto done;
    }
    int64_t D = (int64_t)m.cfg.channels * m.cfg.height * m.cfg.width;
    k.x = genc_aligned_alloc(sizeof(float) * (size_t)(k.B * D));
    k.labels = genc_aligned_alloc(sizeof(int32_t) * (size_t)k.B);
    if (!k.x || !k.labels) { genc_wrap_error("training batch"); goto done; }
    genc_run_message(run, "model: %lld parameters, %s net, process %s, prediction %s, sigma_data %.3g; data: %s",
                     (long long)genc_params_count(&m.params), genc_dnet_name(m.cfg.net), genc_dproc_name(m.cfg.process),
                     genc_dpred_name(m.cfg.pred), m.cfg.sigma_data, k.tc.data);
    rc = genc_train_run(&tr, &fam, run, res);
done:
    genc_aligned_free(k.x);
    genc_aligned_free(k.labels);
    genc_images_free(&k.im);
    genc_trainer_free(&tr);
    genc_dmodel_free(&m);
    return rc;
}
