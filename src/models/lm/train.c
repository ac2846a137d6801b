/* Language models on the shared trainer (genc/train.h): the LM supplies windows of its corpus
 * as batches, its objective's loss, its configuration, and weight decay on its matrices; the
 * trainer does the rest. */
#include "genc/lm.h"
#include "genc/dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

genc_tensor *genc_lm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T,
                          genc_rng *r) {
    switch (lm->train.objective) {
    case GENC_OBJ_MDLM:
    case GENC_OBJ_LLADA: return genc_mdlm_loss(c, lm, x, B, T, r);
    case GENC_OBJ_BD3: return genc_bd3_loss(c, lm, x, B, T, r);
    case GENC_OBJ_SEDD_ABSORB:
    case GENC_OBJ_SEDD_UNIFORM: return genc_sedd_loss(c, lm, x, B, T, r);
    default: break;
    }
    /* AR: mean over the B·T positions of −log p(y_t | x_≤t), on this rank's windows
     * (genc/dist.h; all B of them in one process) */
    int lo, nb = genc_batch_share(c, B, &lo);
    const int32_t *xs = x + (size_t)lo * T, *ys = y + (size_t)lo * T;
    genc_tensor *logits = genc_transformer_forward(c, &lm->model, xs, nb, T, NULL);
    return genc_cross_entropy(c, logits, ys, -1, 0.f, NULL, 0.f);
}

float genc_lm_step(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T, float lr,
                   float clip, genc_rng *noise, float *grad_norm) {
    genc_ctx_reset(c);
    c->rng = lm->drop_rng;
    genc_tensor *loss = genc_lm_loss(c, lm, x, y, B, T, noise);
    float lv = loss->data[0];
    if (genc_optim_step(c, loss, &lm->opt, lr, clip, grad_norm)) return isfinite(lv) ? NAN : lv;
    lm->drop_rng = c->rng;
    return lv;
}

/* ---------------------------------------------------------------- the LM as a trainer family */

typedef struct lm_task {
    genc_lm *lm;
    genc_corpus corpus, test;   /* test: only with an eval hook */
    int32_t *x, *y;             /* the current batch [B·T] and its next-token shift */
    int B, T;
    char title[96];
    genc_st_kv meta[1];
} lm_task;

static int task_batch(void *self, genc_rng *r) {
    lm_task *k = self;
    genc_corpus_batch(&k->corpus, r, k->B, k->T, k->x, k->y);
    return GENC_OK;
}

static genc_tensor *task_loss(genc_ctx *c, void *self, genc_rng *noise) {
    lm_task *k = self;
    return genc_lm_loss(c, k->lm, k->x, k->y, k->B, k->T, noise);
}

/* Weight decay on the matrices: linear weights, the token embedding, learned position and T5
 * bias tables (every rank-2 tensor); never on biases or norm gains. */
static int task_decays(const genc_tensor *p, void *self) { return p->ndim >= 2; }

static char *task_config(void *self) { return genc_tf_config_to_json(&((lm_task *)self)->lm->model.cfg); }
static char *task_train(void *self) { return genc_lm_train_json(&((lm_task *)self)->lm->train); }

/* Held-out bits per character on the first 16384 tokens of the test split: a cheap, fixed
 * probe for the curve in eval.csv (genc eval gives the full figure). Diffusion: a two-sample
 * ELBO bound with a fixed seed, so the curve is not noisier than it must be. */
static int task_eval(void *self, double *value) {
    lm_task *k = self;
    int64_t n = k->test.n_tokens < 16384 ? k->test.n_tokens : 16384;
    genc_lm_eval_result r;
    if (genc_lm_eval_elbo(k->lm, k->test.tokens, n, k->T, 8, 2, 1, &r)) return GENC_ERR;
    *value = r.bpc;
    return GENC_OK;
}

/* The batch's loss in bits per character, the unit of genc eval: every loss is a mean over
 * the B·T predicted positions, so B·T·loss / ln 2 bits over the batch's byte tokens (ar: the
 * targets; diffusion: the window, whose negative ELBO the loss estimates; BOS/EOS are paid for
 * but are not characters). With --clip-schedule the diffusion loss is not the ELBO, and
 * neither is this figure (docs/language-models.md). */
static double task_loss_bpc(void *self, double loss) {
    lm_task *k = self;
    const int32_t *t = genc_objective_is_diffusion(k->lm->train.objective) ? k->x : k->y;
    int64_t n = (int64_t)k->B * k->T, bytes = 0;
    for (int64_t i = 0; i < n; i++) bytes += t[i] < 256;
    return loss * (double)n / (log(2.0) * (double)(bytes ? bytes : n));
}

static void task_family(genc_train_family *fam, lm_task *k) {
    memset(fam, 0, sizeof *fam);
    snprintf(k->title, sizeof k->title, "training loss (%s), bits per character", genc_objective_name(k->lm->train.objective));
    k->meta[0] = (genc_st_kv){"objective", (char *)genc_objective_name(k->lm->train.objective)};
    fam->name = "lm";
    fam->params = &k->lm->model.params;
    fam->self = k;
    fam->batch = task_batch;
    fam->loss = task_loss;
    fam->decays = task_decays;
    fam->config_json = task_config;
    fam->train_json = task_train;
    fam->meta = k->meta;
    fam->n_meta = 1;
    fam->eval = task_eval;
    fam->eval_name = "bpc";
    fam->items_per_step = (double)k->B * k->T;
    fam->items = "tokens";
    fam->loss_scale = 1.0 / log(2.0);
    fam->loss_title = k->title;
    fam->loss_unit = "bpc";
    fam->loss_in_unit = task_loss_bpc;
}

/* A new model from the flags: diffusion objectives see the whole (noised) window, SEDD
 * conditions on the noise level, RoPE remembers the training length (--seq, whatever the
 * scaling: docs/position-encodings.md). */
static int new_model(genc_lm *lm, const genc_tf_config *cfg, const genc_lm_train_cfg *tc, const genc_run_opts *run) {
    if (genc_lm_train_cfg_validate(tc)) return GENC_ERR;
    genc_tf_config mc = *cfg;
    mc.causal = !genc_objective_is_diffusion(tc->objective);
    mc.cond = tc->objective == GENC_OBJ_SEDD_ABSORB || tc->objective == GENC_OBJ_SEDD_UNIFORM ? GENC_COND_ADD : GENC_COND_NONE;
    mc.rope.trained_len = tc->seq; /* L of the RoPE extensions: the length actually trained at */
    if (genc_lm_config_check(&mc, tc) || genc_tf_config_validate(&mc) ||
        genc_train_preflight(run, &tc->common, genc_lm_param_count(&mc),
                             genc_lm_activation_bytes(&mc, tc->common.batch, tc->seq)))
        return GENC_ERR;
    lm->train = *tc;
    return genc_lm_model_init(lm, &mc, tc->common.seed);
}

/* The run saved in out_dir: its model, then the trainer's state. */
static int resume(genc_lm *lm, lm_task *k, genc_train_family *fam, genc_trainer *tr, const genc_run_opts *run) {
    genc_st_file f;
    if (genc_checkpoint_open(run->out_dir, &f)) return genc_wrap_error("--resume");
    int rc = genc_lm_from_file(&f, lm);
    if (rc == GENC_OK)
        rc = genc_train_preflight(run, &lm->train.common, genc_lm_param_count(&lm->model.cfg),
                                  genc_lm_activation_bytes(&lm->model.cfg, lm->train.common.batch, lm->train.seq));
    if (rc == GENC_OK) {
        k->B = lm->train.common.batch;
        k->T = lm->train.seq;
        task_family(fam, k);
        rc = genc_trainer_resume(tr, fam, &f);
    }
    genc_st_free(&f);
    return rc ? genc_wrap_error("--resume %s", run->out_dir) : GENC_OK;
}

int genc_lm_train(const genc_tf_config *cfg, const genc_lm_train_cfg *tc, const genc_run_opts *run,
                  genc_train_result *res) {
    genc_lm lm;
    lm_task k;
    genc_train_family fam;
    genc_trainer tr;
    memset(&lm, 0, sizeof lm);
    memset(&k, 0, sizeof k);
    memset(&tr, 0, sizeof tr);
    k.lm = &lm;
    int rc = GENC_ERR;
    if (run->resume) {
        if (resume(&lm, &k, &fam, &tr, run)) goto done;
        genc_trainer_continue(&tr, tc ? tc->common.steps : 0, run);
    } else {
        if (new_model(&lm, cfg, tc, run)) goto done;
        k.B = tc->common.batch;
        k.T = tc->seq;
        task_family(&fam, &k);
        if (genc_trainer_init(&tr, &fam, &tc->common)) goto done;
    }
    const char *data = lm.train.data[0] ? lm.train.data : GENC_DEFAULT_CORPUS;
    if (genc_corpus_load(data, GENC_SPLIT_TRAIN, (int64_t)k.T + 2, &k.corpus)) goto done;
    genc_run_opts r = *run;
    if (r.eval_every != 0 && genc_corpus_load(data, GENC_SPLIT_TEST, (int64_t)k.T + 2, &k.test)) {
        if (r.eval_every != GENC_EVAL_AUTO) goto done;
        genc_run_message(run, "no held-out evaluation while training: %s", genc_error());
        r.eval_every = 0;
    }
    /* counted against genc's memory limit, like every large block */
    k.x = genc_aligned_alloc(sizeof(int32_t) * (size_t)k.B * (size_t)k.T);
    k.y = genc_aligned_alloc(sizeof(int32_t) * (size_t)k.B * (size_t)k.T);
    if (!k.x || !k.y) { genc_wrap_error("training batch"); goto done; }
    genc_run_message(run, "model: %lld parameters, %d layers, dim %d, %d heads, pos %s; data: %s (%lld train tokens; "
                     "held out for eval: %s)",
                     (long long)genc_params_count(&lm.model.params), lm.model.cfg.layers, lm.model.cfg.dim,
                     lm.model.cfg.heads, genc_pos_name(lm.model.cfg.pos), data, (long long)k.corpus.n_tokens,
                     genc_corpus_split_rule(&k.corpus));
    rc = genc_train_run(&tr, &fam, &r, res);
done:
    genc_aligned_free(k.x);
    genc_aligned_free(k.y);
    genc_corpus_free(&k.corpus);
    genc_corpus_free(&k.test);
    genc_trainer_free(&tr);
    genc_lm_free(&lm);
    return rc;
}
