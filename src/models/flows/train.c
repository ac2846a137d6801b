/* Flows on the shared trainer (genc/train.h): a batch is B images (8-bit pixels) or B points
 * of a 2D toy; the loss is the exact negative log-likelihood, in bits per dimension for
 * images and nats per point for 2D. Dequantisation noise comes from the trainer's
 * noise stream, so a resumed run continues exactly. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows_internal.h"
#include "genc/dist.h"

typedef struct flow_task {
    genc_flow *f;
    genc_images train, test;
    int B;
    float *pix, *u, *y;       /* [B·D] */
    double *jac;              /* [B] */
    char title[96];
} flow_task;

/* The data of cfg: images (train and, if test is given, test split) or a toy. Sets the shape. */
static int load_data(genc_flow_config *cfg, genc_images *train, genc_images *test) {
    const char *d = cfg->data;
    genc_toy t;
    int is_toy;
    if (genc_toy_spec(d, &t, &is_toy)) return genc_wrap_error("--data");
    if (is_toy) {
        cfg->toy = (int)t;
        cfg->C = 2, cfg->H = cfg->W = 1;
        return GENC_OK;
    }
    cfg->toy = -1;
    if (train && genc_images_load(d, GENC_SPLIT_TRAIN, train)) return genc_wrap_error("--data");
    if (test && genc_images_load(d, GENC_SPLIT_TEST, test)) return genc_wrap_error("--data");
    const genc_images *im = train ? train : test;
    if (im) cfg->C = im->channels, cfg->H = im->height, cfg->W = im->width;
    return GENC_OK;
}

static int task_batch(void *self, genc_rng *r) {
    flow_task *k = self;
    const genc_flow_config *cfg = &k->f->cfg;
    if (cfg->toy >= 0) genc_toy_sample((genc_toy)cfg->toy, r, k->B, k->pix);
    else {
        genc_images_batch(&k->train, r, k->B, 0.f, 255.f, k->pix, NULL);
        for (int64_t i = 0; i < (int64_t)k->B * k->f->D; i++) k->pix[i] = rintf(k->pix[i]);
    }
    return GENC_OK;
}

/* The loss is bits per dimension for images (what every progress line and loss.png then
 * shows), nats per point for 2D: NLL / loss_units. */
static double loss_units(const genc_flow *f) { return f->cfg.toy >= 0 ? 1.0 : (double)f->D * log(2.0); }

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    flow_task *k = self;
    genc_flow *f = k->f;
    int64_t n = (int64_t)k->B * f->D;
    if (f->cfg.toy < 0) genc_rng_fill_uniform(noise, k->u, n);
    genc_flow_preprocess(&f->cfg, k->pix, f->cfg.toy < 0 ? k->u : NULL, k->B, k->y, k->jac);
    /* the whole batch is dequantised above; this rank scores its examples (genc/dist.h) */
    int lo, nb = genc_batch_share(c, k->B, &lo);
    double jac = 0;
    for (int b = lo; b < lo + nb; b++) jac += k->jac[b];
    int sh[4] = {nb, f->cfg.C, f->cfg.H, f->cfg.W};
    genc_tensor *x = genc_new(c, 4, sh);
    memcpy(x->data, k->y + (int64_t)lo * f->D, sizeof(float) * (size_t)((int64_t)nb * f->D));
    genc_tensor *lp = genc_flow_log_prob(c, f, x, NULL);
    double dn = loss_units(f);
    return genc_add_scalar(c, genc_scale(c, genc_mean(c, lp), (float)(-1.0 / dn)), (float)(-jac / nb / dn));
}

/* Weight decay (if asked for) on the coupling networks' weights only. */
static int task_decays(const genc_tensor *p, void *self) { return strstr(p->name, ".net.") && p->ndim >= 2; }

static char *task_config(void *self) { return genc_flow_config_to_json(&((flow_task *)self)->f->cfg); }

/* The ActNorm initialisation happens once: the flag is saved so a resumed run keeps it. */
static char *task_train(void *self) {
    flow_task *k = self;
    char *s = malloc(64);
    if (s) snprintf(s, 64, "{\"actnorm_initialised\":%s}", k->f->actnorm_pending ? "false" : "true");
    return s;
}

/* Held-out NLL on the first 1000 test images (bits/dim) or 4096 fresh points (nats). */
static int task_eval(void *self, double *value) {
    flow_task *k = self;
    genc_flow_eval_result r;
    if (genc_flow_evaluate(k->f, 1000, 1, &r)) return GENC_ERR;
    *value = k->f->cfg.toy >= 0 ? r.nll : r.bpd;
    return GENC_OK;
}

static void task_family(genc_train_family *fam, flow_task *k) {
    memset(fam, 0, sizeof *fam);
    int toy = k->f->cfg.toy >= 0;
    snprintf(k->title, sizeof k->title, "training NLL (%s), %s", genc_flow_arch_name(k->f->cfg.arch),
             toy ? "nats per point" : "bits per dimension");
    fam->name = "flow";
    fam->params = &k->f->params;
    fam->self = k;
    fam->batch = task_batch;
    fam->loss = task_loss;
    fam->decays = task_decays;
    fam->config_json = task_config;
    fam->train_json = task_train;
    fam->eval = task_eval;
    fam->eval_name = toy ? "nll" : "bpd";
    fam->items_per_step = k->B;
    fam->items = toy ? "points" : "images";
    fam->loss_scale = 1.0;
    fam->loss_title = k->title;
}

/* Activations of one step, roughly: every layer keeps a few tensors of the widest
 * intermediate (the coupling network's hidden channels). */
static double activation_bytes(const genc_flow *f, int B) {
    double per = 0;
    for (int i = 0; i < f->n_layers; i++) {
        const genc_flow_layer *l = &f->layers[i];
        double px = (double)l->H * l->W, w = l->C + (l->kind >= GENC_FL_COUPLING_CH && l->kind <= GENC_FL_COUPLING_CB ? 3.0 * f->cfg.width : 0);
        per += 8 * px * w;
    }
    return per * B * sizeof(float);
}

/* The model a checkpoint describes, built (not loaded), with the ActNorm flag of its run. */
static int build_from_file(const genc_st_file *file, genc_flow *f) {
    const char *fam = genc_st_meta(file, "family"), *cj = genc_st_meta(file, "config"), *tj = genc_st_meta(file, "train");
    if (!fam || strcmp(fam, "flow") != 0) return genc_set_error("not a flow checkpoint (family '%s')", fam ? fam : "none");
    genc_flow_config cfg;
    if (!cj || genc_flow_config_from_json(cj, &cfg)) return cj ? GENC_ERR : genc_set_error("flow checkpoint without config");
    int64_t want = genc_flow_param_count(&cfg), have = genc_checkpoint_param_count(file);
    if (want != have)
        return genc_set_error("the config describes %lld parameters but the file holds %lld: config and tensors do not match",
                              (long long)want, (long long)have);
    if (genc_flow_init(f, &cfg, 0)) return GENC_ERR;
    cJSON *t = tj ? cJSON_Parse(tj) : NULL;
    /* a checkpoint is written after at least one step, so ActNorms are initialised unless the
     * run says otherwise */
    f->actnorm_pending = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "actnorm_initialised")) && f->actnorm_pending;
    cJSON_Delete(t);
    return GENC_OK;
}

int genc_flow_from_file(const genc_st_file *file, genc_flow *f, int *used_ema) {
    if (build_from_file(file, f)) return GENC_ERR;
    if (genc_checkpoint_load_weights(file, &f->params, used_ema)) {
        genc_flow_free(f);
        return GENC_ERR;
    }
    return GENC_OK;
}

static int resume(genc_flow *f, flow_task *k, genc_train_family *fam, genc_trainer *tr, const genc_run_opts *run) {
    genc_st_file file;
    if (genc_checkpoint_open(run->out_dir, &file)) return genc_wrap_error("--resume");
    int rc = build_from_file(&file, f);
    genc_train_cfg tc;
    if (rc == GENC_OK) rc = genc_train_cfg_from_json(genc_st_meta(&file, "train"), &tc);
    if (rc == GENC_OK) rc = genc_train_preflight(run, &tc, (double)genc_params_count(&f->params), activation_bytes(f, tc.batch));
    if (rc == GENC_OK) {
        k->B = tc.batch;
        task_family(fam, k);
        rc = genc_trainer_resume(tr, fam, &file);
    }
    genc_st_free(&file);
    return rc ? genc_wrap_error("--resume %s", run->out_dir) : GENC_OK;
}

/* The batch buffers, counted against genc's memory limit. */
static int alloc_batch(flow_task *k) {
    int64_t n = (int64_t)k->B * k->f->D;
    k->pix = genc_aligned_alloc(sizeof(float) * (size_t)n);
    k->u = genc_aligned_alloc(sizeof(float) * (size_t)n);
    k->y = genc_aligned_alloc(sizeof(float) * (size_t)n);
    k->jac = genc_aligned_alloc(sizeof(double) * (size_t)k->B);
    return k->pix && k->u && k->y && k->jac ? GENC_OK : genc_wrap_error("training batch");
}

/* Data-dependent initialisation (Glow §3.1) on one batch drawn for it (stream 12 of the
 * seed, so the training batches are the same with or without it): a forward pass in which
 * every ActNorm, in order, sets itself to give its input zero mean and unit variance. */
static int data_init(flow_task *k, uint64_t seed) {
    if (!k->f->actnorm_pending) return GENC_OK;
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return GENC_ERR;
    genc_rng r = genc_rng_make(seed, 12);
    int prev = genc_no_grad(c);
    task_batch(k, &r);
    task_loss(c, k, &r);
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    return k->f->actnorm_pending ? genc_set_error("flow: the data-dependent initialisation did not run") : GENC_OK;
}

int genc_flow_train(const genc_flow_config *cfg_in, const genc_train_cfg *tc, const genc_run_opts *run,
                    genc_train_result *res) {
    genc_flow f;
    flow_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&f, 0, sizeof f);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.f = &f;
    int rc = GENC_ERR;
    if (run->resume) {
        if (resume(&f, &k, &fam, &tr, run)) goto done;
        genc_trainer_continue(&tr, tc ? tc->steps : 0, run);
        genc_flow_config c2 = f.cfg;
        if (load_data(&c2, &k.train, NULL)) goto done;
        if (c2.C != f.cfg.C || c2.H != f.cfg.H || c2.W != f.cfg.W) {
            genc_set_error("--resume: the data %s is no longer %dx%dx%d", f.cfg.data, f.cfg.C, f.cfg.H, f.cfg.W);
            goto done;
        }
    } else {
        genc_flow_config cfg = *cfg_in;
        if (load_data(&cfg, &k.train, NULL)) goto done;
        genc_flow_config_resolve(&cfg);
        if (genc_flow_config_validate(&cfg) || genc_train_cfg_validate(tc)) goto done;
        if (genc_train_preflight(run, tc, (double)genc_flow_param_count(&cfg), 0)) goto done;
        if (genc_flow_init(&f, &cfg, tc->seed)) goto done;
        if (genc_train_preflight(run, tc, (double)genc_params_count(&f.params), activation_bytes(&f, tc->batch))) goto done;
        k.B = tc->batch;
        task_family(&fam, &k);
        /* ActNorm (and NICE's scaling) start from the data before the trainer copies the
         * initial weights (into the EMA, when there is one) */
        if (alloc_batch(&k) || data_init(&k, tc->seed) || genc_trainer_init(&tr, &fam, tc)) goto done;
    }
    if (!k.pix && alloc_batch(&k)) goto done;
    if (f.cfg.toy >= 0)
        genc_run_message(run, "model: %s, %lld parameters, %d layers; data: %s", genc_flow_arch_name(f.cfg.arch),
                         (long long)genc_params_count(&f.params), f.n_layers, f.cfg.data);
    else
        genc_run_message(run, "model: %s, %lld parameters, %d layers, %d levels; data: %s (%lld train images %dx%dx%d)",
                         genc_flow_arch_name(f.cfg.arch), (long long)genc_params_count(&f.params), f.n_layers,
                         f.cfg.levels, f.cfg.data, (long long)k.train.n, f.cfg.C, f.cfg.H, f.cfg.W);
    rc = genc_train_run(&tr, &fam, run, res);
done:
    genc_aligned_free(k.pix);
    genc_aligned_free(k.u);
    genc_aligned_free(k.y);
    genc_aligned_free(k.jac);
    genc_images_free(&k.train);
    genc_images_free(&k.test);
    genc_trainer_free(&tr);
    genc_flow_free(&f);
    return rc;
}
