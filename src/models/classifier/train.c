/* The classifier as a family of the shared trainer (genc/train.h): batches of labelled images
 * drawn with replacement from the training split, the mean cross-entropy, weight decay on the
 * conv and linear weights, the config and data path as JSON, and test accuracy as the
 * held-out metric. Loading a checkpoint for eval, classify and other families is here too. */
#include "genc/classifier.h"
#include "genc/dist.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/json_get.h"

void genc_classifier_train_cfg_default(genc_classifier_train_cfg *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->data, sizeof t->data, "fashion-mnist");
    genc_train_cfg_default(&t->common);
    genc_train_cfg *c = &t->common;
    c->batch = 64;
    c->steps = 3000;
    c->warmup = 100;
    c->lr = 2e-3f;
    c->min_lr = c->lr / 10;
    c->weight_decay = 0.05f;
    c->beta2 = 0.999f;
}

/* "train": the classifier's own key (data); the shared keys are the trainer's. */
static char *train_json(const genc_classifier_train_cfg *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", t->data);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int train_from_json(const char *json, genc_classifier_train_cfg *t) {
    if (genc_train_cfg_from_json(json, &t->common)) return GENC_ERR;
    cJSON *o = cJSON_Parse(json);
    const char *data = NULL;
    int rc = genc_json_get_str(o, "train metadata", "data", &data);
    if (rc == GENC_OK && data) snprintf(t->data, sizeof t->data, "%s", data);
    cJSON_Delete(o);
    return rc;
}

/* Per image, the tape holds each layer's outputs and their gradients: for a CNN stage the conv,
 * GroupNorm, ReLU outputs at full size and the pooled one (3.25·C·H·W), for a ViT block ~12·D +
 * 2·mlp_hidden per token; the im2col tiles are per thread, not per image. An estimate for
 * refusing runs that cannot fit, not a bound. */
double genc_classifier_activation_bytes(const genc_classifier_config *cfg, int B) {
    double per = (double)cfg->channels * cfg->height * cfg->width, F = genc_classifier_feature_dim(cfg);
    if (cfg->net == GENC_NET_MLP) per += 4 * F;
    else if (cfg->net == GENC_NET_CNN) {
        double hw = (double)cfg->height * cfg->width;
        for (int s = 0; s < cfg->n_conv; s++, hw /= 4) per += 3.25 * cfg->conv[s] * hw;
        per += 2 * F;
    } else {
        double T = 1.0 + (double)(cfg->height / cfg->patch) * (cfg->width / cfg->patch);
        per += T * cfg->layers * (12.0 * cfg->dim + 2.0 * cfg->mlp_hidden) + 2 * T * cfg->dim;
    }
    return 2.0 * 4.0 * (double)B * (per + 3.0 * cfg->classes);
}

/* ---------------------------------------------------------------- the trainer family */

typedef struct cls_task {
    genc_classifier *m;
    genc_classifier_train_cfg *tc;
    genc_images train, test;     /* test: only with run->eval_every */
    float *x;                    /* the current batch [B, C, H, W] */
    int32_t *y;                  /* its labels [B] */
    int B;
    genc_st_kv meta[2];
    char *names_json;            /* the data's class names as a JSON array, or NULL */
} cls_task;

static int task_batch(void *self, genc_rng *r) {
    cls_task *k = self;
    genc_images_batch(&k->train, r, k->B, GENC_CLASSIFIER_LO, GENC_CLASSIFIER_HI, k->x, k->y);
    return GENC_OK;
}

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    cls_task *k = self;
    const genc_classifier_config *cfg = &k->m->cfg;
    int lo, nb = genc_batch_share(c, k->B, &lo); /* this rank's images (genc/dist.h) */
    int64_t per = (int64_t)cfg->channels * cfg->height * cfg->width;
    genc_tensor *x = genc_wrap(c, k->x + lo * per, 4, (int[]){nb, cfg->channels, cfg->height, cfg->width});
    return genc_classifier_loss(c, k->m, x, k->y + lo);
}

/* Weight decay on conv kernels and linear weights (rank >= 2); never on biases, norm gains or
 * the class token. */
static int task_decays(const genc_tensor *p, void *self) { return p->ndim >= 2; }

static char *task_config(void *self) { return genc_classifier_config_to_json(&((cls_task *)self)->m->cfg); }
static char *task_train(void *self) { return train_json(((cls_task *)self)->tc); }

/* Accuracy on the first 1000 test images (a fixed subset, so the curve is comparable). */
static int task_eval(void *self, double *value) {
    cls_task *k = self;
    genc_images sub = k->test;
    if (sub.n > 1000) sub.n = 1000;
    genc_classifier_eval_result r;
    if (genc_classifier_evaluate(k->m, &sub, 250, &r)) return GENC_ERR;
    *value = r.accuracy;
    genc_classifier_eval_result_free(&r);
    return GENC_OK;
}

static void task_family(genc_train_family *fam, cls_task *k) {
    k->meta[0] = (genc_st_kv){"net", (char *)genc_net_name(k->m->cfg.net)};
    k->meta[1] = (genc_st_kv){"class_names", k->names_json};
    *fam = (genc_train_family){
        .name = "classifier",
        .params = &k->m->params,
        .self = k,
        .batch = task_batch,
        .loss = task_loss,
        .decays = task_decays,
        .config_json = task_config,
        .train_json = task_train,
        .meta = k->meta,
        .n_meta = k->names_json ? 2 : 1,
        .eval = task_eval,
        .eval_name = "test_accuracy",
        .items_per_step = k->B,
        .items = "images",
        .loss_scale = 1.0,
        .loss_title = "training loss (cross-entropy, nats)",
    };
}

/* ---------------------------------------------------------------- checkpoints */

int genc_classifier_from_file(const genc_st_file *f, genc_classifier *m, genc_classifier_info *info) {
    memset(m, 0, sizeof *m);
    memset(info, 0, sizeof *info);
    genc_classifier_train_cfg_default(&info->train);
    const char *cfgs, *tr;
    genc_classifier_config cfg;
    if (genc_checkpoint_family_meta(f, "classifier", "classifier", &cfgs, &tr, &info->step) ||
        genc_classifier_config_from_json(cfgs, &cfg) || train_from_json(tr, &info->train) ||
        genc_checkpoint_check_params(f, (double)genc_classifier_param_count(&cfg)))
        return GENC_ERR;
    return genc_classifier_init(m, &cfg, info->train.common.seed);
}

/* "class_names": a JSON array of one string per class (absent: NULL names). */
static int class_names_from_json(const char *json, int classes, genc_classifier_info *info) {
    if (!json) return GENC_OK;
    cJSON *o = cJSON_Parse(json);
    int rc = GENC_OK;
    if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) != classes)
        rc = genc_set_error("metadata class_names is not an array of %d names", classes);
    if (rc == GENC_OK && !(info->class_names = calloc((size_t)classes, sizeof(char *)))) rc = genc_set_error("out of memory");
    for (int k = 0; rc == GENC_OK && k < classes; k++) {
        const cJSON *it = cJSON_GetArrayItem(o, k);
        if (!cJSON_IsString(it) || strlen(it->valuestring) > 64) rc = genc_set_error("metadata class_names[%d] is not a short string", k);
        else if (!(info->class_names[k] = strdup(it->valuestring))) rc = genc_set_error("out of memory");
    }
    cJSON_Delete(o);
    return rc;
}

void genc_classifier_info_free(genc_classifier_info *info) {
    if (info->class_names)
        for (int k = 0; k < info->n_names; k++) free(info->class_names[k]);
    free(info->class_names);
    info->class_names = NULL;
    info->n_names = 0;
}

const char *genc_classifier_class_name(const genc_classifier_info *info, int k, char *buf, size_t cap) {
    if (info && info->class_names && k < info->n_names) return info->class_names[k];
    snprintf(buf, cap, "%d", k);
    return buf;
}

int genc_classifier_load_file(const genc_st_file *f, genc_classifier *m, genc_classifier_info *info) {
    genc_classifier_info local;
    if (!info) info = &local;
    int rc = genc_classifier_from_file(f, m, info);
    if (rc == GENC_OK) rc = genc_checkpoint_load_weights(f, &m->params, &info->ema_weights);
    if (rc == GENC_OK) {
        info->n_names = m->cfg.classes;
        rc = class_names_from_json(genc_st_meta(f, "class_names"), m->cfg.classes, info);
    }
    if (rc != GENC_OK || info == &local) genc_classifier_info_free(info);
    if (rc != GENC_OK) genc_classifier_free(m);
    return rc;
}

int genc_classifier_load(const char *dir_or_file, genc_classifier *m, genc_classifier_info *info) {
    genc_st_file f;
    if (genc_checkpoint_open(dir_or_file, &f)) return GENC_ERR;
    int rc = genc_classifier_load_file(&f, m, info);
    genc_st_free(&f);
    return rc ? genc_wrap_error("%s", dir_or_file) : GENC_OK;
}

/* ---------------------------------------------------------------- training */

static int resume(genc_classifier *m, genc_classifier_info *info, cls_task *k, genc_train_family *fam,
                  genc_trainer *tr, const genc_run_opts *run) {
    genc_st_file f;
    if (genc_checkpoint_open(run->out_dir, &f)) return genc_wrap_error("--resume");
    int rc = genc_classifier_from_file(&f, m, info);
    if (rc == GENC_OK)
        rc = genc_train_preflight(run, &info->train.common, (double)genc_classifier_param_count(&m->cfg),
                                  genc_classifier_activation_bytes(&m->cfg, info->train.common.batch));
    if (rc == GENC_OK) {
        k->B = info->train.common.batch;
        task_family(fam, k);
        rc = genc_trainer_resume(tr, fam, &f);
    }
    genc_st_free(&f);
    return rc ? genc_wrap_error("--resume %s", run->out_dir) : GENC_OK;
}

int genc_classifier_train(const genc_classifier_config *cfg, const genc_classifier_train_cfg *tc,
                          const genc_run_opts *run, genc_train_result *res) {
    genc_classifier m;
    genc_classifier_info info;
    cls_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&m, 0, sizeof m);
    memset(&info, 0, sizeof info);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.m = &m;
    k.tc = &info.train;
    int rc = GENC_ERR;
    if (run->resume) {
        if (resume(&m, &info, &k, &fam, &tr, run)) goto done;
        genc_trainer_continue(&tr, tc ? tc->common.steps : 0, run);
    } else {
        /* the data decide the image size and the number of classes */
        info.train = *tc;
        genc_classifier_config mc = *cfg;
        if (genc_images_load(info.train.data, GENC_SPLIT_TRAIN, &k.train)) goto bad_data;
        if (!k.train.labels || k.train.n_classes < 2) {
            genc_set_error("training needs labelled images of at least 2 classes");
            goto bad_data;
        }
        mc.channels = k.train.channels;
        mc.height = k.train.height;
        mc.width = k.train.width;
        mc.classes = k.train.n_classes;
        if (genc_classifier_config_validate(&mc) || genc_train_cfg_validate(&tc->common) ||
            genc_train_preflight(run, &tc->common, (double)genc_classifier_param_count(&mc),
                                 genc_classifier_activation_bytes(&mc, tc->common.batch)) ||
            genc_classifier_init(&m, &mc, tc->common.seed))
            goto done;
        k.B = tc->common.batch;
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, &tc->common)) goto done;
    }
    const char *data = info.train.data;
    if ((!k.train.pixels && genc_images_load(data, GENC_SPLIT_TRAIN, &k.train)) ||
        genc_classifier_check_images(&m.cfg, &k.train, 1) ||
        (run->eval_every > 0 && (genc_images_load(data, GENC_SPLIT_TEST, &k.test) ||
                                 genc_classifier_check_images(&m.cfg, &k.test, 1))))
        goto bad_data;
    if (k.train.class_names) {
        cJSON *names = cJSON_CreateStringArray(k.train.class_names, k.train.n_classes);
        k.names_json = cJSON_PrintUnformatted(names);
        cJSON_Delete(names);
        task_family(&fam, &k); /* now with the names */
    }
    /* counted against genc's memory limit, like every large block */
    k.x = genc_aligned_alloc(sizeof(float) * (size_t)k.B * (size_t)m.cfg.channels * m.cfg.height * m.cfg.width);
    k.y = genc_aligned_alloc(sizeof(int32_t) * (size_t)k.B);
    if (!k.x || !k.y) {
        genc_wrap_error("training batch");
        goto done;
    }
    genc_run_message(run, "model: %s, %lld parameters; data: %s (%lld training images %dx%d, %d classes)",
                     genc_net_name(m.cfg.net), (long long)genc_params_count(&m.params), data, (long long)k.train.n,
                     m.cfg.height, m.cfg.width, m.cfg.classes);
    rc = genc_train_run(&tr, &fam, run, res);
    goto done;
bad_data:
    genc_wrap_error("--data %s", info.train.data);
done:
    free(k.names_json);
    genc_aligned_free(k.x);
    genc_aligned_free(k.y);
    genc_images_free(&k.train);
    genc_images_free(&k.test);
    genc_trainer_free(&tr);
    genc_classifier_free(&m);
    return rc;
}
