/* genc train: the one training loop every family uses.
 *
 * A family (lm, classifier, ...) supplies its parameters, a batch function, a loss, its
 * configuration as JSON and which tensors weight decay applies to (genc_train_family). The
 * trainer owns everything else: the step budget (--steps or --minutes, the schedule sized from
 * the measured speed), warmup + cosine/constant learning rate, AdamW, gradient clipping, an
 * optional EMA of the weights, progress, metrics.csv and loss.png, periodic atomic checkpoints
 * tagged with the family and format version, exact resume, Ctrl-C, and refusing non-finite
 * values. Checkpoint keys: docs/checkpoint-format.md. */
#ifndef GENC_TRAIN_H
#define GENC_TRAIN_H

#include "genc/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- shared run configuration
 * Saved in the checkpoint's "train" JSON next to the family's own keys. */
typedef struct genc_train_cfg {
    int batch;                /* examples per step */
    int64_t steps;            /* total optimizer steps: the schedule's length */
    int64_t warmup;           /* linear warmup steps */
    float lr, min_lr;         /* peak and final learning rate */
    genc_lr_kind schedule;    /* cosine or constant after warmup */
    float weight_decay;       /* decoupled, on the tensors the family chooses */
    float clip;               /* global gradient-norm clip (0: off) */
    float beta1, beta2, eps;  /* AdamW */
    uint64_t seed;            /* init, data order, dropout and noise streams */
    float ema;                /* decay of the EMA of the weights (0: no EMA) */
    int ema_warmup;           /* 1: the EMA's decay at step t is min(ema, (1 + t)/(10 + t));
                                 0: constant, the rule of checkpoints without "ema_warmup" */
} genc_train_cfg;

/* batch 8, 2000 steps, warmup 100, lr 2e-3 → 2e-4 cosine, weight decay 0.1, clip 1,
 * betas (0.9, 0.95), eps 1e-8, seed 1, no EMA (EMA warm-up on when one is asked for). A
 * family may change any of them. */
void genc_train_cfg_default(genc_train_cfg *t);
/* GENC_ERR naming the flag and its range. */
int genc_train_cfg_validate(const genc_train_cfg *t);
/* The shared keys of a checkpoint's "train" JSON (absent keys keep their defaults, except an
 * absent "ema_warmup", which means the constant-decay rule of older files; the family's keys
 * are ignored), validated. */
int genc_train_cfg_from_json(const char *json, genc_train_cfg *t);

/* ---------------------------------------------------------------- what a family supplies */
typedef struct genc_train_family {
    const char *name;          /* checkpoint "family" tag, e.g. "lm" */
    genc_params *params;       /* the trained tensors */
    void *self;                /* handed back to every hook */
    /* Draw the next batch from the data with r, the saved data stream (the data cursor). */
    int (*batch)(void *self, genc_rng *r);
    /* The scalar loss of the current batch on c; in-graph randomness (dropout) comes from
     * c->rng, objective noise from noise (both saved streams). NULL on error. */
    genc_tensor *(*loss)(genc_ctx *c, void *self, genc_rng *noise);
    /* 1 if weight decay applies to p (NULL: to no tensor). */
    int (*decays)(const genc_tensor *p, void *self);
    /* The model configuration (metadata "config") and the family's own run keys (merged
     * into "train"), each a JSON object string the trainer frees. */
    char *(*config_json)(void *self);
    char *(*train_json)(void *self);
    const genc_st_kv *meta;    /* extra metadata strings (the lm's "objective") */
    int n_meta;
    /* Optional held-out metric every run->eval_every steps, logged to eval.csv. */
    int (*eval)(void *self, double *value);
    const char *eval_name;     /* its eval.csv column, e.g. "bpc" */
    double items_per_step;     /* examples or tokens per step, for the throughput */
    const char *items;         /* their name: "tokens" gives the column tokens_per_s */
    double loss_scale;         /* loss.png plots loss × scale (lm: 1/ln 2, bits) */
    const char *loss_title;    /* loss.png title */
    /* The one unit every report of the training loss uses: the console, the metrics.csv
     * column "loss_<unit>" and loss.png (e.g. "bpc"). NULL: the loss as computed, column
     * "loss" (scaled by loss_scale in loss.png only). */
    const char *loss_unit;
    /* The current batch's loss in loss_unit (NULL: loss × loss_scale). */
    double (*loss_in_unit)(void *self, double loss);
} genc_train_family;

/* ---------------------------------------------------------------- trainer state */
typedef struct genc_trainer {
    genc_train_cfg cfg;
    genc_params *ps;
    genc_adamw opt;
    genc_ema ema;              /* ema.decay == 0: none */
    int64_t step;              /* optimizer steps taken */
    genc_rng rng_data;         /* stream 1: the data cursor */
    genc_rng rng_dropout;      /* stream 2: in-graph randomness (c->rng) */
    genc_rng rng_noise;        /* stream 3: objective noise (diffusion levels, masks) */
    float *bucket;             /* under MPI: the gradient all-reduce's bucket (genc/dist.h) */
} genc_trainer;

/* A new run: AdamW over fam->params with the family's decay choice, the EMA (a copy of the
 * initial weights, with cfg->ema_warmup's rule) when cfg->ema > 0, streams 1–3 of cfg->seed. */
int genc_trainer_init(genc_trainer *t, const genc_train_family *fam, const genc_train_cfg *cfg);
/* Continue the run saved in f: the shared "train" keys (the EMA rule among them), the raw
 * weights (not the EMA), AdamW moments, the EMA, step and streams. fam->params must be built
 * from f's config. */
int genc_trainer_resume(genc_trainer *t, const genc_train_family *fam, const genc_st_file *f);
void genc_trainer_free(genc_trainer *t);

/* One step at learning rate lr: the next batch, the loss, backward, clip, AdamW, the EMA.
 * GENC_ERR naming the step when the loss or the gradient norm is not finite (nothing is
 * changed then but the consumed streams). loss and grad_norm may be NULL. */
int genc_trainer_step(genc_trainer *t, const genc_train_family *fam, genc_ctx *c, float lr, float *loss,
                      float *grad_norm);
/* Under MPI (genc/dist.h): GENC_ERR when cfg->batch, the global batch, does not divide over
 * the ranks. Each step then computes the loss on the rank's share of the examples, averages
 * the gradients over the ranks, and every rank takes the same step. */
int genc_trainer_check_ranks(const genc_train_cfg *cfg);
/* The checkpoint: weights, moments, EMA, and metadata format, family, config, train, step,
 * rng_data, rng_dropout, rng_noise plus fam->meta. Atomic; refuses non-finite tensors. */
int genc_trainer_save(const genc_trainer *t, const genc_train_family *fam, const char *path);

/* ---------------------------------------------------------------- running */
typedef struct genc_train_progress {
    int64_t step, total;       /* total 0 while --minutes is still measuring the speed */
    float loss, lr, grad_norm; /* loss: running average, in loss_unit */
    double items_per_s, elapsed_s, eta_s; /* elapsed_s: since the run began, across resumes */
    const char *loss_unit;     /* the family's loss_unit (NULL: none) */
} genc_train_progress;

#define GENC_EVAL_AUTO (-1)

typedef struct genc_run_opts {
    const char *out_dir;       /* the run folder: model.safetensors, metrics.csv, loss.png */
    int resume;                /* continue the run in out_dir */
    int force;                 /* start over even if out_dir holds a run */
    double minutes;            /* > 0: stop after this wall time; the schedule length is fixed
                                  from the speed of the first steps */
    int64_t stop_at;           /* > 0: stop after this step as if interrupted (checkpoint saved) */
    int64_t save_every;        /* checkpoint every N steps (0: only at the end) */
    int64_t eval_every;        /* fam->eval every N steps into eval.csv (0: never;
                                  GENC_EVAL_AUTO: about 10 times a run, once its length is
                                  known, e.g. after --minutes has measured the speed) */
    int catch_signals;         /* SIGINT/SIGTERM: finish the step, save, return */
    void (*progress)(const genc_train_progress *p, void *user);
    void (*message)(const char *line, void *user);
    void *user;
} genc_run_opts;

typedef struct genc_train_result {
    int64_t step;              /* steps taken when the run returned */
    float loss;                /* running average of the loss, in the family's loss_unit */
    int signal;                /* the signal that interrupted the run (0: none) */
} genc_train_result;

/* Before building a new run: refuses an out_dir holding a checkpoint unless resume or force,
 * and a run whose weights, gradients, AdamW moments, EMA and activation_bytes (the family's
 * estimate) exceed the machine's physical memory (with the estimate in GiB). Sizes are
 * computed in double from the configuration, before anything is allocated. */
int genc_train_preflight(const genc_run_opts *run, const genc_train_cfg *cfg, double n_params,
                         double activation_bytes);
/* The loop, from t->step to t->cfg.steps (a resumed run continues exactly as an
 * uninterrupted one would have). Writes out_dir/model.safetensors, metrics.csv, loss.png and
 * (with eval_every) eval.csv. After a signal: the checkpoint is saved at the finished step,
 * res->signal says which, and the call returns GENC_OK. res may be NULL. */
int genc_train_run(genc_trainer *t, const genc_train_family *fam, const genc_run_opts *run,
                   genc_train_result *res);

/* After a resume: steps > 0 (the user's --steps) sets the schedule's length, and the run says
 * where it continues. */
void genc_trainer_continue(genc_trainer *t, int64_t steps, const genc_run_opts *run);
/* A line for run->message (printf-style). */
void genc_run_message(const genc_run_opts *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
