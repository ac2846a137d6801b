/* BLIP as a family of the shared trainer (genc/train.h), on fresh captioned Fashion-MNIST
 * batches or on a fixed pair set; and a CLIP model trained on a pair set (CapFilt's two
 * comparison runs). Loading a BLIP checkpoint back. */
#include "genc/blip.h"

#include <stdlib.h>
#include <string.h>

#define BLIP_DATA "fashion-mnist"

void genc_blip_train_cfg_default(genc_train_cfg *c) {
    genc_train_cfg_default(c);
    c->batch = 32;
    c->steps = 800;
    c->warmup = 50;
    c->lr = 2e-3f;
    c->min_lr = 2e-4f;
    c->weight_decay = 0.05f; /* BLIP's pre-training value */
    c->beta2 = 0.98f;
}

typedef struct pair_task {
    genc_blip *blip;             /* the BLIP task, or NULL */
    genc_clip *clip;             /* the CLIP task (pair sets only) */
    const genc_pair_set *pairs;  /* NULL: fresh captions of train */
    genc_images train;
    const genc_clip_config *cfg;
    float *x;                    /* [B, C, H, W] */
    int32_t *ids, *keys;         /* [B, ctx], [B] */
    int *eos;
    int B;
    genc_st_kv meta[1];
} pair_task;

static int task_batch(void *self, genc_rng *r) {
    pair_task *k = self;
    if (k->pairs) {
        genc_pair_set_batch(k->pairs, r, k->B, -1.f, 1.f, k->x, k->ids, k->eos, k->keys);
        return GENC_OK;
    }
    /* fresh captions name the image's class: the label is the key */
    return genc_caption_batch(&k->train, r, k->B, k->cfg->ctx, -1.f, 1.f, k->x, k->ids, k->eos, k->keys);
}

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    pair_task *k = self;
    genc_tensor *x = genc_wrap(c, k->x, 4, (int[]){k->B, k->cfg->channels, k->cfg->height, k->cfg->width});
    if (k->blip) return genc_blip_loss(c, k->blip, x, k->ids, k->eos, k->keys, noise, NULL);
    return genc_clip_pair_loss(c, k->clip, x, k->ids, k->eos);
}

/* matrices decay; biases, gains, the class token and the temperature do not */
static int task_decays(const genc_tensor *p, void *self) {
    (void)self;
    return p->ndim >= 2;
}

static char *task_config(void *self) {
    pair_task *k = self;
    return k->blip ? genc_blip_config_to_json(&k->blip->cfg) : genc_clip_config_to_json(k->cfg);
}

static char *task_train(void *self) {
    pair_task *k = self;
    return strdup(k->pairs ? "{\"data\": \"pair-set\"}" : "{\"data\": \"" BLIP_DATA "\"}");
}

static void task_family(genc_train_family *fam, pair_task *k) {
    k->meta[0] = (genc_st_kv){"loss", k->blip ? "itc+itm+lm" : (char *)genc_clip_loss_name(k->cfg->loss)};
    *fam = (genc_train_family){
        .name = k->blip ? "blip" : "clip",
        .params = k->blip ? &k->blip->base.params : &k->clip->params,
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
        .loss_title = k->blip ? "training loss (ITC + ITM + LM, nats)" : "training loss (InfoNCE, nats)",
    };
}

/* BLIP's text transformer runs five times per pair: unimodal, three ITM pairs, the decoder */
#define BLIP_TEXT_PASSES 5

static int alloc_batch(pair_task *k) {
    const genc_clip_config *c = k->cfg;
    k->x = genc_aligned_alloc(sizeof(float) * (size_t)k->B * (size_t)c->channels * c->height * c->width);
    k->ids = genc_aligned_alloc(sizeof(int32_t) * (size_t)k->B * (size_t)c->ctx);
    k->eos = genc_aligned_alloc(sizeof(int) * (size_t)k->B);
    k->keys = genc_aligned_alloc(sizeof(int32_t) * (size_t)k->B);
    return k->x && k->ids && k->eos && k->keys ? GENC_OK : genc_wrap_error("training batch");
}

static void task_free(pair_task *k) {
    genc_aligned_free(k->x);
    genc_aligned_free(k->ids);
    genc_aligned_free(k->eos);
    genc_aligned_free(k->keys);
    genc_images_free(&k->train);
}

static int from_file(const genc_st_file *f, genc_blip *m, genc_train_cfg *tc, int64_t *step) {
    const char *cj, *tj;
    genc_blip_config cfg;
    if (genc_checkpoint_family_meta(f, "blip", "BLIP model", &cj, &tj, step) || genc_blip_config_from_json(cj, &cfg) ||
        (tc && genc_train_cfg_from_json(tj, tc)) || genc_checkpoint_check_params(f, (double)genc_blip_param_count(&cfg)))
        return GENC_ERR;
    return genc_blip_init(m, &cfg, 1);
}

int genc_blip_load_file(const genc_st_file *f, genc_blip *m, int64_t *step) {
    int64_t s = 0;
    int used_ema = 0;
    if (from_file(f, m, NULL, &s)) return GENC_ERR;
    if (genc_checkpoint_load_weights(f, &m->base.params, &used_ema)) {
        genc_blip_free(m);
        return GENC_ERR;
    }
    genc_clip_clamp_scale(m->base.scale);
    if (step) *step = s;
    return GENC_OK;
}

/* The model's image size from the data; GENC_ERR when the images cannot be captioned or the
 * pair set's captions have another length. */
static int fit_images(genc_clip_config *mc, const genc_images *im, const genc_pair_set *pairs) {
    if (!im->labels || !im->class_names) return genc_set_error("image-text training needs labelled images with class names");
    if (pairs && pairs->ctx != mc->ctx)
        return genc_set_error("the pair set's captions have %d positions, the text tower %d", pairs->ctx, mc->ctx);
    mc->channels = im->channels;
    mc->height = im->height;
    mc->width = im->width;
    return GENC_OK;
}

int genc_blip_train(const genc_blip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                    const genc_pair_set *pairs, genc_train_result *res) {
    genc_blip m;
    pair_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&m, 0, sizeof m);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.blip = &m;
    k.pairs = pairs;
    int rc = GENC_ERR;
    const genc_images *im = pairs ? pairs->im : &k.train;
    if (!pairs && genc_images_load(BLIP_DATA, GENC_SPLIT_TRAIN, &k.train)) {
        genc_wrap_error("data %s", BLIP_DATA);
        goto done;
    }
    if (run->resume) {
        genc_st_file f;
        genc_train_cfg saved;
        genc_blip_train_cfg_default(&saved);
        int64_t step;
        if (pairs) {
            genc_set_error("a run on a pair set cannot be resumed");
            goto done;
        }
        if (genc_checkpoint_open(run->out_dir, &f)) goto done;
        rc = from_file(&f, &m, &saved, &step);
        k.cfg = &m.cfg.clip;
        if (rc == GENC_OK) rc = genc_train_preflight(run, &saved, (double)genc_blip_param_count(&m.cfg),
                                                     genc_clip_activation_bytes(k.cfg, saved.batch, BLIP_TEXT_PASSES));
        if (rc == GENC_OK) {
            k.B = saved.batch;
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
        genc_blip_config mc = *cfg;
        if (fit_images(&mc.clip, im, pairs) || genc_blip_config_validate(&mc) || genc_train_cfg_validate(tc) ||
            genc_train_preflight(run, tc, (double)genc_blip_param_count(&mc), genc_clip_activation_bytes(&mc.clip, tc->batch, BLIP_TEXT_PASSES)) ||
            genc_blip_init(&m, &mc, tc->seed))
            goto done;
        k.cfg = &m.cfg.clip;
        k.B = tc->batch;
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, tc)) goto done;
    }
    if (alloc_batch(&k)) goto done;
    genc_run_message(run, "model: BLIP (ITC + ITM + LM), %lld parameters; data: %s (%lld pairs)",
                     (long long)genc_params_count(&m.base.params), pairs ? "a pair set" : BLIP_DATA " with captions",
                     (long long)(pairs ? pairs->n : k.train.n));
    rc = genc_train_run(&tr, &fam, run, res);
done:
    task_free(&k);
    genc_trainer_free(&tr);
    genc_blip_free(&m);
    return rc;
}

int genc_clip_train_set(const genc_clip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                        const genc_pair_set *pairs, genc_train_result *res) {
    genc_clip m;
    pair_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&m, 0, sizeof m);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.clip = &m;
    k.pairs = pairs;
    genc_clip_config mc = *cfg;
    int rc = GENC_ERR;
    if (pairs->n < 1) genc_set_error("the pair set is empty");
    else if (fit_images(&mc, pairs->im, pairs) == GENC_OK && genc_clip_config_validate(&mc) == GENC_OK &&
             genc_train_cfg_validate(tc) == GENC_OK &&
             genc_train_preflight(run, tc, (double)genc_clip_param_count(&mc), genc_clip_activation_bytes(&mc, tc->batch, 1)) == GENC_OK &&
             genc_clip_init(&m, &mc, tc->seed) == GENC_OK) {
        k.cfg = &m.cfg;
        k.B = tc->batch;
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, tc) == GENC_OK && alloc_batch(&k) == GENC_OK) rc = genc_train_run(&tr, &fam, run, res);
    }
    task_free(&k);
    genc_trainer_free(&tr);
    genc_clip_free(&m);
    return rc;
}
