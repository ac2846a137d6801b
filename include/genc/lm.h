/* genc language models over the shared transformer backbone: autoregressive (ar), masked
 * diffusion (mdlm, llada), block diffusion (bd3) and score-entropy diffusion (sedd-absorb,
 * sedd-uniform), all on the same byte tokens and compared in one unit (bits per character).
 * Math and conventions: docs/language-models.md, docs/masked-diffusion.md. */
#ifndef GENC_LM_H
#define GENC_LM_H

#include "genc/data.h"
#include "genc/nn.h"
#include "genc/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum genc_lm_objective {
    GENC_OBJ_AR = 0,
    GENC_OBJ_MDLM,          /* masked diffusion, log-linear schedule, weight 1/t */
    GENC_OBJ_LLADA,         /* masked diffusion, p = (1−ε)t + ε, weight 1/p */
    GENC_OBJ_BD3,           /* block diffusion: AR over blocks, masked diffusion inside */
    GENC_OBJ_SEDD_ABSORB,   /* score entropy, absorbing transitions */
    GENC_OBJ_SEDD_UNIFORM,  /* score entropy, uniform transitions */
    GENC_OBJ_COUNT
} genc_lm_objective;
const char *genc_objective_name(genc_lm_objective o);
int genc_objective_parse(const char *s, genc_lm_objective *o);
/* 1 for every objective but ar: bidirectional attention, Monte-Carlo ELBO evaluation. */
int genc_objective_is_diffusion(genc_lm_objective o);

/* Everything a run needs besides the architecture: the LM's own keys and the shared trainer
 * settings. Saved in the checkpoint's "train" JSON (docs/checkpoint-format.md). */
typedef struct genc_lm_train_cfg {
    genc_lm_objective objective;
    char data[1024];          /* corpus path ("" → default corpus) */
    int seq;                  /* context length in tokens */
    int block;                /* bd3 block size (default 4) */
    float t_lo, t_hi;         /* training noise levels t ~ U[t_lo, t_hi] (--clip-schedule);
                                 default [0, 1] i.e. the full range; evaluation always uses it */
    genc_train_cfg common;    /* batch, steps, schedule, AdamW, clipping, seed, EMA */
} genc_lm_train_cfg;

void genc_lm_train_cfg_default(genc_lm_train_cfg *t);
/* The LM's keys and the shared ones. */
int genc_lm_train_cfg_validate(const genc_lm_train_cfg *t);

/* A model for evaluation or sampling (or a new one being trained). */
typedef struct genc_lm {
    genc_transformer model;
    genc_time_embed_m time_emb; /* SEDD (model.cfg.cond = add): noise level → the vector the
                                   backbone adds to every token; parameters "time_emb.*" in
                                   model.params */
    genc_lm_train_cfg train;
    int64_t step;             /* optimizer steps the loaded weights were trained for */
    int ema_weights;          /* 1: the loaded weights are the checkpoint's EMA */
    /* genc_lm_step's state, for training outside the trainer (tests, benchmarks) */
    genc_adamw opt;
    int has_opt;
    genc_rng drop_rng;        /* dropout stream */
    /* Optional: progress of evaluations and samplers, done of total units (tokens, windows ×
     * Monte-Carlo draws, denoising steps), after each forward pass. Set after loading. */
    void (*progress)(int64_t done, int64_t total, void *user);
    void *progress_user;
} genc_lm;

/* lm->progress(done, total), when it is set. */
void genc_lm_progress(const genc_lm *lm, int64_t done, int64_t total);

/* Build lm->model from cfg with the initial values of seed, plus lm->time_emb when cfg->cond is
 * "add" (SEDD), registered in lm->model.params. GENC_ERR on a bad config or out of memory. */
int genc_lm_model_init(genc_lm *lm, const genc_tf_config *cfg, uint64_t seed);

/* The weights a checkpoint (run folder or file) holds for evaluation and sampling: the EMA
 * weights when it has them (lm->ema_weights), else the trained ones. The config must imply
 * exactly the parameters the file holds, checked before anything is allocated. */
int genc_lm_load(const char *dir_or_file, genc_lm *lm);
int genc_lm_load_file(const genc_st_file *f, genc_lm *lm);
/* The first half of genc_lm_load_file, where a resumed run starts: the model the checkpoint
 * describes (family, config and "train" keys checked, the parameter count compared with the
 * file's tensors), weights not loaded. */
int genc_lm_from_file(const genc_st_file *f, genc_lm *lm);
void genc_lm_free(genc_lm *lm);
/* What the lm family requires of a backbone config trained with t (checked on every load):
 * vocab GENC_VOCAB, causal attention exactly for ar, cond "add" exactly for SEDD, no
 * cross-attention, class token or 2D positions, a learned table at least t->seq long. */
int genc_lm_config_check(const genc_tf_config *cfg, const genc_lm_train_cfg *t);
/* The LM's own keys of "train" (objective, data, seq, block, t_lo, t_hi) as a JSON object. */
char *genc_lm_train_json(const genc_lm_train_cfg *t);

/* Sizes from a (valid) configuration, computed in double before anything is allocated: the
 * parameter count, and an estimate of the activation memory of one training step on B
 * windows of T tokens (bytes). */
double genc_lm_param_count(const genc_tf_config *cfg);
double genc_lm_activation_bytes(const genc_tf_config *cfg, int B, int T);

/* ---------------------------------------------------------------- training (train.c) */
/* Train a new model (cfg, tc) or resume one (run->resume: cfg and tc come from the checkpoint,
 * except tc->common.steps which, when > 0, replaces the schedule length) with the shared
 * trainer (genc/train.h). res (may be NULL) says where it stopped and why. */
int genc_lm_train(const genc_tf_config *cfg, const genc_lm_train_cfg *tc, const genc_run_opts *run,
                  genc_train_result *res);

/* One training loss for a batch: x,y [B·T] are the window and its next-token shift.
 * ar: mean next-token cross-entropy. Diffusion objectives model the window x itself (y is not
 * used) and draw their noise from r. Every loss is normalised by the B·T real positions. */
genc_tensor *genc_lm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T,
                          genc_rng *r);

/* One optimizer step on a batch outside the trainer: reset c, the loss (dropout from
 * lm->drop_rng, diffusion noise from noise), genc_optim_step with lm->opt. Returns the loss
 * before the step; a non-finite loss is returned without stepping, and NAN when the gradient
 * norm is not finite (nothing stepped either). grad_norm (may be NULL) receives the norm. */
float genc_lm_step(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T, float lr,
                   float clip, genc_rng *noise, float *grad_norm);

/* ---------------------------------------------------------------- diffusion objectives
 * One file per family. Each gives the training loss on clean windows x0 [B·T] and one
 * Monte-Carlo sample of the negative ELBO (nats) of each window, nelbo[B] (full noise range,
 * no clipping), both drawing their noise from r. */
genc_tensor *genc_mdlm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r);
void genc_mdlm_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo);
genc_tensor *genc_bd3_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r);
void genc_bd3_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo);
genc_tensor *genc_sedd_loss(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r);
void genc_sedd_nelbo(genc_ctx *c, genc_lm *lm, const int32_t *x0, int B, int T, genc_rng *r, double *nelbo);

/* ---------------------------------------------------------------- evaluation (eval.c) */
typedef struct genc_lm_eval_result {
    double bpc;               /* bits per character (byte) */
    double bpc_stderr;        /* standard error of the Monte-Carlo estimate (0 for ar; NAN when
                                 mc = 1: one draw per window cannot estimate it) */
    int mc;                   /* Monte-Carlo samples per window (diffusion) */
    double nats;              /* total negative log-likelihood */
    int64_t tokens;           /* predicted tokens */
    int64_t bytes;            /* predicted byte tokens: the bpc denominator */
    double seconds;
} genc_lm_eval_result;

/* Bits per character of the token stream: windows of T+1 tokens with stride T, every token
 * after the first predicted once from up to T previous tokens.
 * bpc = Σ −log p(token) / (ln 2 · number of predicted byte tokens) (BOS/EOS are predicted and
 * paid for, but only bytes count as characters). */
int genc_lm_eval_tokens(genc_lm *lm, const int32_t *tokens, int64_t n, int T, int batch,
                        genc_lm_eval_result *r);
/* Token by token, for checking a model against another implementation: logp[i] = log p(
 * tokens[i+1] | tokens[max(0, i+1−T) … i]) in nats for i = 0 … n−2 (the windows of
 * genc_lm_eval_tokens: every token after the first predicted once, from up to T previous
 * tokens). Autoregressive models only (a diffusion model gives a bound per window, not a
 * probability per token). */
int genc_lm_token_logprobs(genc_lm *lm, const int32_t *tokens, int64_t n, int T, float *logp);
/* Diffusion objectives: windows of T tokens with stride T (each token in one window), the
 * negative ELBO of each window estimated with mc Monte-Carlo samples (seeded), bpc = Σ nelbo /
 * (ln 2 · byte tokens), with its standard error. ar: same as genc_lm_eval_tokens. */
int genc_lm_eval_elbo(genc_lm *lm, const int32_t *tokens, int64_t n, int T, int batch, int mc,
                      uint64_t seed, genc_lm_eval_result *r);

/* ---------------------------------------------------------------- sampling (sample.c) */
typedef enum genc_remask { GENC_REMASK_LOW_CONFIDENCE = 0, GENC_REMASK_RANDOM } genc_remask;
typedef enum genc_dsampler {
    GENC_SAMPLER_DEFAULT = 0, /* ar: KV cache; mdlm/llada/bd3: llada; sedd: tau-leaping */
    GENC_SAMPLER_LLADA,       /* commit the top-k confident predictions per step */
    GENC_SAMPLER_DDPM_CACHE,  /* MDLM ancestral sampler, network output reused while unchanged */
    GENC_SAMPLER_FIRST_HITTING, /* unmask one uniformly chosen position per step */
    GENC_SAMPLER_EULER,       /* SEDD Euler step of the reverse CTMC */
    GENC_SAMPLER_TAU_LEAPING, /* SEDD Tweedie tau-leaping */
} genc_dsampler;

typedef struct genc_lm_sample_opts {
    int len;                  /* new tokens per sample */
    int n;                    /* samples */
    float temperature;        /* 0 → greedy */
    int top_k;                /* 0 → off */
    float top_p;              /* 1 → off */
    uint64_t seed;
    int stop_at_eos;
    /* diffusion samplers */
    int steps;                /* denoising steps (0 → len) */
    int block;                /* semi-autoregressive block length (0 → len; bd3: model block) */
    genc_remask remask;
    float cfg;                /* classifier-free guidance weight w (0 → off), needs a prompt */
    genc_dsampler sampler;
} genc_lm_sample_opts;

/* The defaults genc sample uses: 200 tokens, 1 sample, temperature 0.8, top-k and top-p off,
 * seed 1, stop at the end-of-document token, the objective's default sampler. Start from
 * these and change what you need. */
void genc_lm_sample_opts_default(genc_lm_sample_opts *o);
const char *genc_sampler_name(genc_dsampler s);
int genc_sampler_parse(const char *s, genc_dsampler *out);
/* Check sampler options against the model (lengths divisible by blocks, steps by blocks,
 * sampler applicable to the objective). GENC_ERR with a message saying what to change. */
int genc_lm_sample_validate(const genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o);
/* Per-objective samplers behind genc_lm_sample (same contract). */
int genc_mdlm_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out);
int genc_bd3_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out);
int genc_sedd_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out, int *n_out);

/* Generate continuations of prompt (bytes) with a KV cache. out[i] receives n_out[i] tokens
 * (caller frees out[i]). */
int genc_lm_sample(genc_lm *lm, const char *prompt, const genc_lm_sample_opts *o, int32_t **out,
                   int *n_out);
/* Pick a token from logits[V] (temperature, top-k, top-p) with one uniform draw u in [0,1). */
int32_t genc_sample_logits(const float *logits, int V, float temperature, int top_k, float top_p,
                           float u, float *scratch);

#ifdef __cplusplus
}
#endif
#endif
