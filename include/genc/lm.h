/* genc language models over the shared transformer backbone.
 * Objective "ar" (autoregressive, next-byte cross-entropy); the diffusion objectives build on
 * the same files. */
#ifndef GENC_LM_H
#define GENC_LM_H

#include "genc/data.h"
#include "genc/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum genc_lm_objective { GENC_OBJ_AR = 0 } genc_lm_objective;
const char *genc_objective_name(genc_lm_objective o);
int genc_objective_parse(const char *s, genc_lm_objective *o);

/* Everything a run needs besides the architecture. Saved in the checkpoint as JSON ("train"). */
typedef struct genc_lm_train_cfg {
    genc_lm_objective objective;
    char data[1024];          /* corpus path ("" → default corpus) */
    int seq, batch;
    int64_t steps;            /* total optimizer steps (the schedule's length) */
    float lr, min_lr, weight_decay, clip, beta1, beta2, eps;
    int64_t warmup;
    genc_lr_kind schedule;
    uint64_t seed;
} genc_lm_train_cfg;

void genc_lm_train_cfg_default(genc_lm_train_cfg *t);
int genc_lm_train_cfg_validate(const genc_lm_train_cfg *t);

/* A loaded (or new) model with its training state. */
typedef struct genc_lm {
    genc_transformer model;
    genc_lm_train_cfg train;
    genc_adamw opt;           /* initialised by genc_lm_train only */
    int has_opt;
    int64_t step;
    genc_rng data_rng;        /* the data position: windows are drawn from it */
    genc_rng drop_rng;        /* dropout stream */
} genc_lm;

/* A checkpoint path from a run folder or file: DIR → DIR/model.safetensors. */
void genc_lm_checkpoint_path(const char *dir_or_file, char *out, size_t cap);
/* Load weights, config and training state (optimizer moments only when with_opt). */
int genc_lm_load(const char *dir_or_file, genc_lm *lm, int with_opt);
int genc_lm_save(const char *path, const genc_lm *lm);
void genc_lm_free(genc_lm *lm);

/* ---------------------------------------------------------------- training (train.c) */
typedef struct genc_lm_progress {
    int64_t step, total;
    float loss, lr, grad_norm;
    double tokens_per_s, elapsed_s, eta_s;
} genc_lm_progress;

typedef struct genc_lm_run_opts {
    const char *out_dir;
    int resume;               /* continue from out_dir/model.safetensors */
    double minutes;           /* > 0: stop after this wall time (the schedule length is fixed from
                                 the measured speed of the first steps) */
    int64_t stop_at;          /* > 0: stop after this step as if interrupted (checkpoint saved) */
    int64_t save_every;       /* checkpoint every N steps (0 → only at the end) */
    int64_t eval_every;       /* held-out bpc every N steps (0 → never during training) */
    void (*progress)(const genc_lm_progress *p, void *user);
    void (*message)(const char *line, void *user);
    void *user;
} genc_lm_run_opts;

/* Train a new model (cfg, tc) or resume one (run->resume: cfg and tc come from the checkpoint,
 * except tc->steps which may be raised). Writes out_dir/model.safetensors and metrics.csv. */
int genc_lm_train(const genc_tf_config *cfg, const genc_lm_train_cfg *tc, const genc_lm_run_opts *run);

/* One training loss for a batch x,y [B·T] (objective "ar": mean next-token cross-entropy). */
genc_tensor *genc_lm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T);

/* ---------------------------------------------------------------- evaluation (eval.c) */
typedef struct genc_lm_eval_result {
    double bpc;               /* bits per character (byte) */
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

/* ---------------------------------------------------------------- sampling (sample.c) */
typedef struct genc_lm_sample_opts {
    int len;                  /* new tokens per sample */
    int n;                    /* samples */
    float temperature;        /* 0 → greedy */
    int top_k;                /* 0 → off */
    float top_p;              /* 1 → off */
    uint64_t seed;
    int stop_at_eos;
} genc_lm_sample_opts;

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
