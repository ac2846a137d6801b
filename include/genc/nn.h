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

/* ---------------------------------------------------------------- basic modules (modules.c)
 * Every module registers its parameters as "<prefix>.<name>" (just "<name>" for the empty
 * prefix), so several modules or towers ("image.", "text.") share one genc_params, one
 * optimizer and one checkpoint. Init functions return GENC_ERR when a parameter cannot be
 * allocated or its name does not fit. */

/* "<prefix>.<name>" (or "<name>" when prefix is NULL or empty) into buf; GENC_ERR if it does
 * not fit in cap bytes. */
int genc_param_name(char *buf, size_t cap, const char *prefix, const char *name);

typedef struct genc_linear_m {
    genc_tensor *W; /* [out, in] */
    genc_tensor *b; /* [out] or NULL */
} genc_linear_m;

/* Registers "<name>.weight" and "<name>.bias"; weights N(0, std), bias 0. */
int genc_linear_m_init(genc_linear_m *m, genc_params *ps, const char *name, int in, int out,
                       int bias, genc_rng *r, float std);
genc_tensor *genc_linear_m_fwd(genc_ctx *c, const genc_linear_m *m, genc_tensor *x);

typedef struct genc_norm_m {
    genc_tensor *w, *b; /* b NULL for RMSNorm; both NULL for a norm without affine (adaLN) */
    int rms;
    float eps;
} genc_norm_m;

/* Registers "<name>.weight" (1) and, for LayerNorm, "<name>.bias" (0). */
int genc_norm_m_init(genc_norm_m *m, genc_params *ps, const char *name, int dim, int rms, float eps);
/* x[..., D] → normalised x (times w, plus b, when the norm has them) */
genc_tensor *genc_norm_m_fwd(genc_ctx *c, const genc_norm_m *m, genc_tensor *x);

/* Embedding of a per-sample scalar level t[B] (diffusion time, noise level σ̄):
 *   genc_timestep_embedding(t) [B, freq_dim] → fc1 → SiLU → fc2 → [B, out]
 * (the MLP time embedding of DDPM, DiT's TimestepEmbedder, SEDD's σ̄ embedding).
 * Registers "<name>.fc1" [hidden, freq_dim] and "<name>.fc2" [out, hidden], with biases. */
typedef struct genc_time_embed_m {
    int freq_dim;
    genc_linear_m fc1, fc2;
} genc_time_embed_m;

int genc_time_embed_m_init(genc_time_embed_m *m, genc_params *ps, const char *name, int freq_dim,
                           int hidden, int out, genc_rng *r, float std);
genc_tensor *genc_time_embed_m_fwd(genc_ctx *c, const genc_time_embed_m *m, const float *t, int B);

/* ---------------------------------------------------------------- position encodings (posenc.c) */
typedef enum genc_pos {
    GENC_POS_NONE = 0,
    GENC_POS_SINUSOIDAL,
    GENC_POS_LEARNED,
    GENC_POS_ROPE,         /* interleaved pairs (2i, 2i+1) */
    GENC_POS_ROPE_HALF,    /* half-split pairs (i, i + d/2) */
    GENC_POS_ALIBI,
    GENC_POS_T5,
    /* 2D: a sequence is [prefix tokens (the class token), grid_h·grid_w patches in row-major
     * order]; patch p sits at column x = p % grid_w, row y = p / grid_w. Prefix tokens get no
     * position (not rotated, nothing added). */
    GENC_POS_ROPE2D,       /* axial 2D RoPE, interleaved pairs (genc_rope2d_tables); every token
                              before the last grid_h·grid_w is a prefix token */
    GENC_POS_ROPE2D_HALF,  /* axial 2D RoPE, half-split pairs */
    GENC_POS_LEARNED2D,    /* learned axial tables added to the patches (before the class
                              token goes in front): row[y] + col[x], [grid_h, dim], [grid_w, dim] */
} genc_pos;
#define GENC_POS_COUNT 10

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
int genc_pos_is_rope(genc_pos p);        /* 1D or 2D RoPE */
int genc_pos_is_2d(genc_pos p);          /* needs a patch grid */

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
/* Axial 2D RoPE tables cos/sin [n_prefix + h·w, d/2] for head dim d (d % 4 == 0): the
 * n_prefix leading tokens are not rotated (cos 1, sin 0); patch p at x = p % w, y = p / w
 * turns pair k < d/4 by x·f_k and pair d/4 + k by y·f_k, f_k = 100^(−4k/d) (Heo et al. 2024,
 * "Rotary position embedding for vision transformer", axial variant). "Pair" is whatever
 * genc_rope's convention makes it. */
void genc_rope2d_tables(int d, int h, int w, int n_prefix, float *cos, float *sin);
/* Sinusoidal features of real-valued levels t[n] → out[n, dim] (DDPM's timestep embedding:
 * [cos(t·f_i), sin(t·f_i)], f_i = 10000^(−i/(dim/2))). */
void genc_timestep_embedding(const float *t, int n, int dim, float *out);
/* Sinusoidal absolute encoding [T, dim] for positions offset .. offset+T−1 (Vaswani et al.). */
void genc_sinusoidal_table(int T, int dim, int offset, float *out);

/* ---------------------------------------------------------------- transformer
 * One backbone for every family, in three stages usable on their own:
 *   embed  (embed.c):       token ids, or hidden states from any source x[B, T, D] (image
 *                           patches, 2D points), → optional class token in front, absolute
 *                           positions, conditioning "add", dropout             → [B, T', D]
 *   blocks (block.c):       N pre-LN blocks and the final norm, x[B, T, D]     → [B, T, D]
 *   head   (transformer.c): hidden states → logits over the vocabulary (tied or not)
 * genc_transformer_forward is the language model's composition of the three.
 *
 * A block, pre-LN (Xiong et al. 2020), with its options:
 *   x += Attn(LN1(x))                                   self-attention (causal, bidirectional,
 *                                                       block-causal, padding; any 1D/2D PE)
 *   x += XAttn(LNx(x), ctx)                  cross_attn: q from x, k/v from ctx[B, S, ctx_dim]
 *                                                       (all of it, or its unpadded part;
 *                                                       skipped by a pass without a ctx)
 *   x += MLP(LN2(x))
 * With adaLN-Zero (cond = adaln; Peebles & Xie 2023, DiT) LN1/LN2 lose their affine and
 *   (α1, β1, γ1, α2, β2, γ2) = ada(SiLU(cond)),  ada zero-initialised, each [B, D]
 *   x += γ1 ⊙ Attn(LN1(x)·(1 + β1) + α1);   x += γ2 ⊙ MLP(LN2(x)·(1 + β2) + α2)
 * so every block starts as the identity (shift α, scale β, gate γ; DiT's chunk order
 * shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp). The final norm is then
 * affine-free too and modulated by its own zero-initialised ln_f.ada → (shift, scale), DiT's
 * final layer before its linear. Cross-attention, when present, is not modulated (PixArt-α). */
typedef enum genc_mlp_kind {
    GENC_MLP_GELU = 0,  /* exact erf GELU */
    GENC_MLP_GELU_TANH,
    GENC_MLP_QUICKGELU,
    GENC_MLP_SWIGLU,
} genc_mlp_kind;

const char *genc_mlp_name(genc_mlp_kind k);
int genc_mlp_parse(const char *s, genc_mlp_kind *k);

/* How a per-sequence conditioning vector genc_tf_run.cond [B, cond_dim] enters the backbone. */
typedef enum genc_cond_kind {
    GENC_COND_NONE = 0,
    GENC_COND_ADD,      /* added to every token at the input (cond_dim = dim); SEDD's noise level */
    GENC_COND_ADALN,    /* adaLN-Zero modulation of every block (DiT) */
} genc_cond_kind;

const char *genc_cond_name(genc_cond_kind k);
int genc_cond_parse(const char *s, genc_cond_kind *k);

typedef struct genc_tf_config {
    int vocab;             /* token embedding and head rows; 0: no token embedding and no head
                              (inputs are hidden states, e.g. an image tower) */
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
    int cross_attn;        /* 1: a cross-attention sub-block in every block (BLIP decoder) */
    int ctx_dim;           /* width of the cross-attention context; 0 → dim */
    genc_cond_kind cond;   /* conditioning vector: none, add, adaln */
    int cond_dim;          /* width of the conditioning vector; 0 → dim (add needs dim) */
    int cls_token;         /* 1: a learned class token "cls_token" [dim] is put in front of the
                              input by the embed stage (ViT, CLIP) */
    int grid_h, grid_w;    /* patch grid of the 2D position encodings */
} genc_tf_config;

/* Defaults for a small byte-level LM (vocab GENC_VOCAB from data.h must be set by caller). */
void genc_tf_config_default(genc_tf_config *cfg);
/* Defaults for a vision transformer over the patches of H×W images (patch side P, 0: no grid
 * yet): no vocabulary (the inputs are patch embeddings), bidirectional, a grid of H/P × W/P
 * for the 2D position encoding pos; dim, heads and layers as given, the rest default. */
void genc_tf_config_patches(genc_tf_config *cfg, int dim, int heads, int layers, int H, int W, int P,
                            genc_pos pos);
/* The MLP width the config gives (mlp_hidden, or its default). */
int genc_tf_mlp_hidden(const genc_tf_config *cfg);
/* Check every field; GENC_ERR naming the field and the rule (dim % heads, even head dim for
 * RoPE, grid for 2D encodings, bounded sizes and parameter count, ...). */
/* Number of parameters genc_tf_build registers for cfg (each size bounded first by validate):
 * lets a loader compare a checkpoint's config with its tensors before allocating anything. */
int64_t genc_tf_param_count(const genc_tf_config *cfg);
int genc_tf_config_validate(const genc_tf_config *cfg);
/* JSON (cJSON-free string, caller frees) and back. from_json validates. Legacy key: an old
 * "time_cond": true (SEDD checkpoints before the conditioning path) reads as cond = "add". */
char *genc_tf_config_to_json(const genc_tf_config *cfg);
int genc_tf_config_from_json(const char *json, genc_tf_config *cfg);

typedef struct genc_tf_block {
    genc_norm_m ln1, ln2;     /* affine-free under adaLN */
    genc_linear_m q, k, v, o;
    genc_linear_m fc1, fc2;   /* fc1 is [2·hidden, dim] for SwiGLU (gate rows first) */
    genc_norm_m ln_x;         /* cross_attn: "blocks.{i}.ln_x" */
    genc_linear_m xq, xk, xv, xo; /* "blocks.{i}.xattn.{q,k,v,o}"; xk, xv are [dim, ctx_dim] */
    genc_linear_m ada;        /* adaLN: "blocks.{i}.ada" [6·dim, cond_dim] + bias, zero init */
} genc_tf_block;

/* Parameter names under the prefix (none for the language models):
 *   tok_emb.weight [vocab, dim]    pos_emb.weight [max_pos, dim] (learned)
 *   pos_emb.row.weight [grid_h, dim], pos_emb.col.weight [grid_w, dim] (learned2d)
 *   cls_token [dim]                t5_bias.weight [t5_buckets, heads] (t5)
 *   blocks.{i}.*                   ln_f.weight/.bias (ln_f.ada [2·dim, cond_dim] under adaLN)
 *   head.weight [vocab, dim] (untied) */
typedef struct genc_transformer {
    genc_tf_config cfg;
    genc_params params;      /* owned parameters (genc_transformer_init); empty when the model
                                was built into someone else's genc_params (genc_tf_build) */
    genc_tensor *tok_emb;    /* [vocab, dim] */
    genc_tensor *pos_emb;    /* [max_pos, dim] (learned) */
    genc_tensor *pos_row, *pos_col; /* [grid_h, dim], [grid_w, dim] (learned2d) */
    genc_tensor *cls;        /* [dim] (cls_token) */
    genc_tensor *t5_table;   /* [t5_buckets, heads] (T5) */
    genc_tf_block *blocks;
    genc_norm_m ln_f;
    genc_linear_m ln_f_ada;  /* adaLN: [2·dim, cond_dim] → (shift, scale) of the final norm */
    genc_linear_m head;      /* [vocab, dim], unused when tied */
    float *alibi_slopes;     /* [heads] */
} genc_transformer;

/* Builds and initialises (GPT-2 style: N(0, std), residual output projections scaled by
 * 1/sqrt(2·layers), norms 1/0, adaLN projections 0) into its own m->params, names without a
 * prefix. GENC_ERR if the config is invalid or memory runs out (m is then freed). */
int genc_transformer_init(genc_transformer *m, const genc_tf_config *cfg, uint64_t seed);
/* The same into an existing genc_params under a name prefix ("" or NULL: none), drawing the
 * initial values from r (genc_transformer_init uses genc_tf_init_rng(seed)). m must be
 * zeroed; on error it is freed (its parameters stay registered in ps). */
int genc_tf_build(genc_transformer *m, genc_params *ps, const char *prefix, const genc_tf_config *cfg,
                  genc_rng *r);
/* Sharing modules between two transformers (BLIP: the image-grounded text encoder and the
 * caption decoder share everything but their self-attention, Li et al. 2022 §3.1). A part
 * named in `share` is not created: m's modules point at `from`'s tensors, which are already
 * registered in ps, so gradients of both models add up in one tensor and the checkpoint holds
 * it once. Parts: */
#define GENC_TF_SHARE_EMBED 1u       /* tok_emb, pos_emb (learned / learned2d), cls_token, t5_bias */
#define GENC_TF_SHARE_SELF_ATTN 2u   /* blocks.{i}.ln1, attn.{q,k,v,o} */
#define GENC_TF_SHARE_CROSS_ATTN 4u  /* blocks.{i}.ln_x, xattn.{q,k,v,o} */
#define GENC_TF_SHARE_MLP 8u         /* blocks.{i}.ln2, mlp.fc1, mlp.fc2 */
#define GENC_TF_SHARE_FINAL 16u      /* ln_f, head */
/* genc_tf_build, taking the parts in `share` from `from` (share 0 or from NULL: genc_tf_build).
 * GENC_ERR naming the field when cfg and from->cfg differ in a way the shared tensors cannot
 * serve (width, layers, heads, MLP, norms, biases; the vocabulary and positions for the
 * embedding; the context width for cross-attention), or under adaLN. The shared parts draw
 * nothing from r. Free m before from (m does not own the shared tensors; ps does). */
int genc_tf_build_shared(genc_transformer *m, genc_params *ps, const char *prefix, const genc_tf_config *cfg,
                         genc_rng *r, const genc_transformer *from, unsigned share);
/* The parameters genc_tf_build_shared registers for cfg: genc_tf_param_count without the
 * shared parts. */
int64_t genc_tf_param_count_owned(const genc_tf_config *cfg, unsigned share);
/* The initialisation stream of a seed. Modules built after a backbone from the same stream
 * (the LM's time embedding) keep models reproducible from one seed. */
genc_rng genc_tf_init_rng(uint64_t seed);
void genc_transformer_free(genc_transformer *m);

/* KV cache for incremental decoding: per layer, k and v [B, max_T, H, Dh]. For models with
 * cross-attention also the context's projected keys and values xk, xv [B, ctx_len, H, Dh]
 * per layer, made by the first pass and reused by every later one: the context must stay the
 * same for the cache's life (a captioner decoding one batch of images). */
typedef struct genc_kv_cache {
    int B, max_T, len, layers, heads, head_dim;
    float **k, **v;
    int ctx_len;             /* S of the cached context k/v; 0 until the first pass */
    float **xk, **xv;        /* [layers] of [B, S, H, Dh], NULL until the first pass */
} genc_kv_cache;

int genc_kv_cache_init(genc_kv_cache *kv, const genc_transformer *m, int B, int max_T);
void genc_kv_cache_free(genc_kv_cache *kv);
/* Reorder the cache's batch rows: new row b is old row src[b] (src[B], any values in [0, B),
 * repeats allowed), for the self-attention k/v [0, len) and the context k/v. Beam search
 * keeps the beams it extends this way. GENC_ERR when out of memory (cache unchanged). */
int genc_kv_cache_reorder(genc_kv_cache *kv, const int *src);

/* Options of one forward pass (all optional; zero is the default). */
typedef struct genc_tf_run {
    int pos_offset;          /* absolute position of the first token (ignored with a cache: the
                                cache length is the offset) */
    const int *pos;          /* optional per-token positions [T] (overrides the offset) */
    int cur_len;             /* sequence length for dynamic NTK; 0 → pos_offset + T */
    int block;               /* block-causal attention (see genc_attn_opts) */
    const uint8_t *mask;     /* optional [T, Tk] boolean mask */
    const uint8_t *key_pad;  /* optional [B, T] self-attention padding, 1 = real token, over the
                                tokens the blocks see (a class token included) */
    int bidirectional;       /* override the config's causal flag (1: no causal mask) */
    genc_kv_cache *cache;    /* when set (no-grad only): append this pass's k/v, attend over all */
    int cache_peek;          /* with a cache: attend over cache + this pass without keeping this
                                pass's k/v (the cache length does not advance) */
    genc_tensor *ctx;        /* [B, S, ctx_dim] cross-attention context (cross_attn models; with
                                a KV cache its k/v are projected once, at the first pass). NULL:
                                the cross-attention sub-blocks are skipped (BLIP's unimodal
                                text encoder is its image-grounded one without them) */
    const uint8_t *ctx_pad;  /* optional [B, S] context padding, 1 = real token */
    genc_tensor *cond;       /* [B, cond_dim] conditioning vector (cond = add or adaln) */
    int return_hidden;       /* 1: return the final hidden states [B·T, dim] instead of logits */
} genc_tf_run;

/* embed: token ids[B·T] → [B, T', D], T' = T + cls_token. Positions, class token, conditioning
 * add and dropout as for genc_tf_embed. Needs vocab > 0. */
genc_tensor *genc_tf_embed_ids(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B, int T,
                               const genc_tf_run *run);
/* embed: hidden states x[B, T, D] from any source → [B, T', D]: the class token in front
 * (cls_token), absolute positions (sinusoidal/learned: positions of the run, the class token
 * being the first; learned2d: T must be grid_h·grid_w), the conditioning vector added to
 * every token (cond = add), dropout. */
genc_tensor *genc_tf_embed(genc_ctx *c, genc_transformer *m, genc_tensor *x, const genc_tf_run *run);
/* blocks: x[B, T, D] → every block, then the final norm → [B, T, D]. Advances the KV cache. */
genc_tensor *genc_tf_blocks_forward(genc_ctx *c, genc_transformer *m, genc_tensor *x, const genc_tf_run *run);
/* One block alone: x[B, T, D] → [B, T, D] (block `layer`; the KV cache, if any, is not
 * advanced). */
genc_tensor *genc_tf_block_forward(genc_ctx *c, genc_transformer *m, int layer, genc_tensor *x,
                                   const genc_tf_run *run);
/* head: hidden states h[..., D] → logits [..., vocab] (tied or not). */
genc_tensor *genc_transformer_logits(genc_ctx *c, genc_transformer *m, genc_tensor *h);
/* The language model: ids[B·T] → logits [B·T, vocab] (or hidden states [B·T, dim] with
 * run->return_hidden) = head(blocks(embed_ids(ids))). */
genc_tensor *genc_transformer_forward(genc_ctx *c, genc_transformer *m, const int32_t *ids, int B,
                                      int T, const genc_tf_run *run);

/* Class token helpers. tok[D] in front of every sequence: x[B, T, D] → [B, T+1, D]. */
genc_tensor *genc_prepend_token(genc_ctx *c, genc_tensor *x, genc_tensor *tok);
/* Position t of every sequence: x[B, T, D] → [B, D] (t = 0: the class token's output). */
genc_tensor *genc_token_at(genc_ctx *c, genc_tensor *x, int t);

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
/* The same with the loss value that decides (loss_value: the mean over every rank's loss) and
 * reduce (may be NULL) run on the gradients right after backward: the all-reduce of data
 * parallelism, before the norm is measured and clipped. */
int genc_optim_step_reduced(genc_ctx *c, genc_tensor *loss, float loss_value, int (*reduce)(genc_params *ps, void *user),
                            void *user, genc_adamw *o, float lr, float clip, float *grad_norm);

/* Exponential moving average of the weights, updated after each optimizer step t = 1, 2, ...:
 *   w_ema ← d_t·w_ema + (1 − d_t)·w   (w_ema starts as a copy of w)
 * d_t = decay, or with warmup d_t = min(decay, (1 + t)/(10 + t)) (ema.c says why). */
typedef struct genc_ema {
    float decay;             /* 0: no EMA; with warmup the bound d_t reaches */
    int warmup;              /* 1: the warm-up rule; 0: constant decay (init leaves it 0) */
    int64_t t;               /* updates taken (a resumed run sets it to the step) */
    const genc_params *ps;
    float **w;               /* one buffer per parameter */
} genc_ema;

int genc_ema_init(genc_ema *e, const genc_params *ps, float decay);
/* d_t, the decay update t (counted from 1) uses. */
float genc_ema_decay_at(const genc_ema *e, int64_t t);
/* Update t = ++e->t. */
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
/* The metadata every family's checkpoint holds: "family" equal to family (else GENC_ERR "not a
 * <what> checkpoint (family '<tag>')"), the "config" and "train" JSON strings, and "step", a
 * whole number >= 0. */
int genc_checkpoint_family_meta(const genc_st_file *f, const char *family, const char *what, const char **config,
                                const char **train, int64_t *step);
/* GENC_ERR unless want, the parameter count a config read from f implies (computed before
 * anything is allocated), equals genc_checkpoint_param_count(f): a small file cannot make a
 * config claiming a huge model allocate it. */
int genc_checkpoint_check_params(const genc_st_file *f, double want);

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
