/* genc nn: parameterised modules (linear, norms, position encodings, attention, MLP,
 * transformer), optimizers and learning-rate schedules, checkpoints. */
#ifndef GENC_NN_H
#define GENC_NN_H

#include "genc/core.h"
#include "genc/io.h"
#include "genc/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- basic modules (modules.c) */
typedef struct genc_linear_m {
    genc_tensor *W; /* [out, in] */
    genc_tensor *b; /* [out] or NULL */
} genc_linear_m;

/* Registers "<name>.weight" and "<name>.bias"; weights N(0, std), bias 0. */
void genc_linear_m_init(genc_linear_m *m, genc_params *ps, const char *name, int in, int out,
                        int bias, genc_rng *r, float std);
genc_tensor *genc_linear_m_fwd(genc_ctx *c, const genc_linear_m *m, genc_tensor *x);

typedef struct genc_norm_m {
    genc_tensor *w, *b; /* b NULL for RMSNorm */
    int rms;
    float eps;
} genc_norm_m;

void genc_norm_m_init(genc_norm_m *m, genc_params *ps, const char *name, int dim, int rms, float eps);
genc_tensor *genc_norm_m_fwd(genc_ctx *c, const genc_norm_m *m, genc_tensor *x);

/* ---------------------------------------------------------------- position encodings (posenc.c) */
typedef enum genc_pos {
    GENC_POS_NONE = 0,
    GENC_POS_SINUSOIDAL,
    GENC_POS_LEARNED,
    GENC_POS_ROPE,       /* interleaved pairs (2i, 2i+1) */
    GENC_POS_ROPE_HALF,  /* half-split pairs (i, i + d/2) */
    GENC_POS_ALIBI,
    GENC_POS_T5,
} genc_pos;

typedef enum genc_rope_scaling {
    GENC_ROPE_SCALE_NONE = 0,
    GENC_ROPE_SCALE_LINEAR,       /* position interpolation θ_i / s */
    GENC_ROPE_SCALE_NTK,          /* base' = base · s^(d/(d−2)) */
    GENC_ROPE_SCALE_DYNAMIC_NTK,  /* NTK with s from the current length */
    GENC_ROPE_SCALE_YARN,
} genc_rope_scaling;

const char *genc_pos_name(genc_pos p);
int genc_pos_parse(const char *s, genc_pos *p);                 /* GENC_ERR on unknown */
const char *genc_rope_scaling_name(genc_rope_scaling s);
int genc_rope_scaling_parse(const char *s, genc_rope_scaling *out);

typedef struct genc_rope_cfg {
    float base;              /* 10000 */
    genc_rope_scaling scaling;
    float factor;            /* s */
    int trained_len;         /* L: the context length the model was trained at */
} genc_rope_cfg;

/* Inverse frequencies θ_i, i < d/2, for head dim d, after scaling, and the attention factor
 * that multiplies cos and sin (YaRN's 0.1 ln s + 1; 1 otherwise). cur_len is the current
 * sequence length (used by dynamic NTK only). */
void genc_rope_inv_freq(const genc_rope_cfg *rc, int d, int cur_len, float *inv_freq, float *mscale);
/* Per-token tables cos/sin [T, d/2] for positions pos[t] (or offset + t when pos is NULL). */
void genc_rope_tables(const genc_rope_cfg *rc, int d, const int *pos, int offset, int T, int cur_len,
                      float *cos, float *sin);
/* Sinusoidal features of real-valued levels t[n] → out[n, dim] (DDPM's timestep embedding:
 * [cos(t·f_i), sin(t·f_i)], f_i = 10000^(−i/(dim/2))). */
void genc_timestep_embedding(const float *t, int n, int dim, float *out);
/* Sinusoidal absolute encoding [T, dim] for positions offset .. offset+T−1 (Vaswani et al.). */
void genc_sinusoidal_table(int T, int dim, int offset, float *out);

/* ---------------------------------------------------------------- transformer (transformer.c) */
typedef enum genc_mlp_kind {
    GENC_MLP_GELU = 0,  /* exact erf GELU */
    GENC_MLP_GELU_TANH,
    GENC_MLP_QUICKGELU,
    GENC_MLP_SWIGLU,
} genc_mlp_kind;

const char *genc_mlp_name(genc_mlp_kind k);
int genc_mlp_parse(const char *s, genc_mlp_kind *k);

typedef struct genc_tf_config {
    int vocab;
    int dim;
    int layers;
    int heads;
    int mlp_hidden;        /* 0 → 4·dim (GELU kinds) or 8·dim/3 rounded up to 32 (SwiGLU) */
    int max_pos;           /* learned positions table size; also the longest allowed input */
    int causal;            /* 1: causal self-attention (AR) */
    genc_pos pos;
    genc_rope_cfg rope;
    int t5_buckets;        /* 32 */
    int t5_max_distance;   /* 128 */
    int norm_rms;          /* 1: RMSNorm, 0: LayerNorm */
    float norm_eps;        /* 1e-5 */
    genc_mlp_kind mlp;
    int bias;              /* biases in linear layers */
    int tie_embeddings;    /* output head shares the token embedding */
    float dropout;
    float init_std;        /* 0.02 */
    int time_cond;         /* 1: add an embedding of a per-sequence noise level to every token
                              (score-entropy diffusion); the level comes from genc_tf_run.time */
} genc_tf_config;

/* Defaults for a small byte-level LM (vocab GENC_VOCAB from data.h must be set by caller). */
void genc_tf_config_default(genc_tf_config *cfg);
/* Check every field; GENC_ERR naming the field and the rule (dim % heads, even head dim for
 * RoPE, ...). */
int genc_tf_config_validate(const genc_tf_config *cfg);
/* JSON (cJSON-free string, caller frees) and back. from_json validates. */
char *genc_tf_config_to_json(const genc_tf_config *cfg);
int genc_tf_config_from_json(const char *json, genc_tf_config *cfg);

typedef struct genc_tf_block {
    genc_norm_m ln1, ln2;
    genc_linear_m q, k, v, o;
    genc_linear_m fc1, fc2;  /* fc1 is [2·hidden, dim] for SwiGLU (gate rows first) */
} genc_tf_block;

typedef struct genc_transformer {
    genc_tf_config cfg;
    genc_params params;
    genc_tensor *tok_emb;    /* [vocab, dim] */
    genc_tensor *pos_emb;    /* [max_pos, dim] (learned) */
    genc_tensor *t5_table;   /* [t5_buckets, heads] (T5) */
    genc_tf_block *blocks;
    genc_norm_m ln_f;
    genc_linear_m head;      /* [vocab, dim], unused when tied */
    genc_linear_m time_fc1, time_fc2; /* time_cond: sinusoidal(level) → fc1 → SiLU → fc2 */
    float *alibi_slopes;     /* [heads] */
} genc_transformer;

/* Builds and initialises (GPT-2 style: N(0, std), residual output projections scaled by
 * 1/sqrt(2·layers), norms 1/0). GENC_ERR if the config is invalid. */
int genc_transformer_init(genc_transformer *m, const genc_tf_config *cfg, uint64_t seed);
void genc_transformer_free(genc_transformer *m);

/* KV cache for incremental decoding: per layer, k and v [B, max_T, H, Dh]. */
typedef struct genc_kv_cache {
    int B, max_T, len, layers, heads, head_dim;
    float **k, **v;
} genc_kv_cache;

int genc_kv_cache_init(genc_kv_cache *kv, const genc_transformer *m, int B, int max_T);
void genc_kv_cache_free(genc_kv_cache *kv);

/* Options of one forward pass. */
typedef struct genc_tf_run {
    int pos_offset;          /* absolute position of the first token (ignored with a cache: the
                                cache length is the offset) */
    const int *pos;          /* optional per-token positions [T] (overrides the offset) */
    int cur_len;             /* sequence length for dynamic NTK; 0 → pos_offset + T */
    int block;               /* block-causal attention (see genc_attn_opts) */
    const uint8_t *mask;     /* optional [T, Tk] boolean mask */
    const uint8_t *key_pad;  /* optional [B, T] */
    int bidirectional;       /* override the config's causal flag (1: no causal mask) */
    genc_kv_cache *cache;    /* when set (no-grad only): append this pass's k/v, attend over all */
    int cache_peek;          /* with a cache: attend over cache + this pass without keeping this
                                pass's k/v (the cache length does not advance) */
    const float *time;       /* [B] noise level per sequence (models with time_cond) */
    int return_hidden;       /* 1: return the final hidden states [B·T, dim] instead of logits */
} genc_tf_run;

/* ids[B·T] → logits [B·T, vocab] (or hidden states). */
genc_tensor *genc_transformer_forward(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B,
                                      int T, const genc_tf_run *run);
/* Logits from hidden states (the head, tied or not). */
genc_tensor *genc_transformer_logits(genc_ctx *c, genc_transformer *m, genc_tensor *h);

/* ---------------------------------------------------------------- optimizer (optim.c, ema.c) */
typedef struct genc_adamw {
    float beta1, beta2, eps, weight_decay;
    int64_t t;               /* steps taken */
    genc_params *ps;
    float **m, **v;          /* one buffer per parameter */
    uint8_t *decay;          /* the decayed group: decay[i] = 1 if weight decay applies to ps->list[i] */
} genc_adamw;

/* AdamW over ps with two parameter groups: the tensors with decay[i] = 1 get weight_decay,
 * the others none (decay NULL: none decays). */
int genc_adamw_init_groups(genc_adamw *o, genc_params *ps, float beta1, float beta2, float eps,
                           float weight_decay, const uint8_t *decay);
/* The same with the common choice made for the caller: the matrices (rank >= 2: linear
 * weights, embeddings) decay; biases and norm gains do not. */
int genc_adamw_init(genc_adamw *o, genc_params *ps, float beta1, float beta2, float eps,
                    float weight_decay);
void genc_adamw_free(genc_adamw *o);
/* One step at learning rate lr (PyTorch's torch.optim.AdamW semantics). */
void genc_adamw_step(genc_adamw *o, float lr);
/* Scale all grads so their global L2 norm is at most max_norm (if max_norm > 0); returns the
 * norm before clipping. */
float genc_clip_grad_norm(genc_params *ps, float max_norm);
/* The tail of every training step: backward from the scalar loss, clip the gradient norm to
 * clip (0: off), AdamW at lr, zero the gradients. GENC_ERR ("the loss is NaN", "the gradient
 * norm is +inf") without touching the weights when the loss or the norm is not finite.
 * grad_norm (may be NULL) receives the norm before clipping. */
int genc_optim_step(genc_ctx *c, genc_tensor *loss, genc_adamw *o, float lr, float clip, float *grad_norm);

/* Exponential moving average of the weights, updated after each optimizer step:
 *   w_ema ← d·w_ema + (1 − d)·w       (d = decay; w_ema starts as a copy of w) */
typedef struct genc_ema {
    float decay;             /* 0: no EMA */
    const genc_params *ps;
    float **w;               /* one buffer per parameter */
} genc_ema;

int genc_ema_init(genc_ema *e, const genc_params *ps, float decay);
void genc_ema_update(genc_ema *e);
void genc_ema_free(genc_ema *e);

typedef enum { GENC_LR_COSINE = 0, GENC_LR_CONSTANT } genc_lr_kind;
typedef struct genc_lr_schedule {
    genc_lr_kind kind;
    float lr, min_lr;
    int64_t warmup, total;
} genc_lr_schedule;
/* Linear warmup from lr/warmup to lr over `warmup` steps, then constant or cosine to min_lr at
 * `total`. step is 0-based. */
float genc_lr_at(const genc_lr_schedule *s, int64_t step);

/* ---------------------------------------------------------------- checkpoints (checkpoint.c)
 * safetensors holding the parameters under their names, optionally the AdamW moments under
 * "optim.m.<name>" / "optim.v.<name>", the EMA weights under "ema.<name>", and string
 * metadata: "format" ("genc-<version>"), "family", config JSON, step, RNG streams, ...
 * (docs/checkpoint-format.md). */
#define GENC_CHECKPOINT_VERSION 2
#define GENC_CHECKPOINT_FILE "model.safetensors"

/* DIR → DIR/model.safetensors; anything else is taken as the file itself. */
void genc_checkpoint_path(const char *dir_or_file, char *out, size_t cap);
/* Read a genc checkpoint: a "format" of genc-1 up to genc-GENC_CHECKPOINT_VERSION and a
 * "family". GENC_ERR with a message for a newer version, a file without them, or a bad file. */
int genc_checkpoint_open(const char *dir_or_file, genc_st_file *f);
/* The same checks on a file already read (path for messages). */
int genc_checkpoint_check(const genc_st_file *f, const char *path);
/* The version of an opened checkpoint (1, 2, ...). */
int genc_checkpoint_version(const genc_st_file *f);
/* Elements in the file's weight tensors (not optim.* or ema.*): what the config must imply. */
int64_t genc_checkpoint_param_count(const genc_st_file *f);

/* Write atomically; GENC_ERR without writing when any tensor holds a NaN or an infinity.
 * Removes temporaries left beside path by an interrupted earlier write. opt and ema may be
 * NULL. */
int genc_checkpoint_save(const char *path, const genc_params *ps, const genc_adamw *opt,
                         const genc_ema *ema, const genc_st_kv *meta, int n_meta);
/* Load parameter values by name (every parameter must be present with the right shape), and
 * the moments and EMA when opt / ema are given. */
int genc_checkpoint_load_params(const genc_st_file *f, genc_params *ps, genc_adamw *opt,
                                const genc_ema *ema);
/* Weights for evaluation and sampling: the EMA weights when the file has them (*used_ema = 1),
 * else the raw ones. */
int genc_checkpoint_load_weights(const genc_st_file *f, genc_params *ps, int *used_ema);

#ifdef __cplusplus
}
#endif
#endif
