/* genc flows: normalizing flows with exact likelihood (NICE, RealNVP, Glow).
 *
 * A flow is a list of invertible layers acting on h[B, C, H, W]; 2D points and flattened
 * vectors are [B, D, 1, 1]. Every layer has a forward (x → y plus its log|det ∂y/∂x| per
 * example) and an inverse (y → x). Multi-scale flows factor half of the channels out at the
 * end of each level; the factored pieces and the final h together are the latent z, laid out
 * flat per example ([B, D]: the pieces in the order they left the flow, each in [C][H][W]
 * order). log p(x) = Σ_pieces log p_Z(piece) + Σ_layers log|det|. The maths, the
 * dequantisation and the bits/dim accounting are in docs/flows.md. */
#ifndef GENC_FLOWS_H
#define GENC_FLOWS_H

#include "genc/data.h"
#include "genc/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum genc_flow_arch { GENC_FLOW_NICE = 0, GENC_FLOW_REALNVP, GENC_FLOW_GLOW } genc_flow_arch;
typedef enum genc_flow_prior { GENC_PRIOR_GAUSSIAN = 0, GENC_PRIOR_LOGISTIC } genc_flow_prior;
typedef enum genc_flow_coupling { GENC_COUPLING_ADDITIVE = 0, GENC_COUPLING_AFFINE } genc_flow_coupling;
/* How dequantised pixels x ∈ [0, 1) enter the flow: as they are (NICE), centred x − ½ (Glow),
 * or RealNVP's logit(α + (1 − α)·x) whose log-Jacobian is counted in the likelihood. */
typedef enum genc_flow_pre { GENC_PRE_NONE = 0, GENC_PRE_CENTER, GENC_PRE_LOGIT } genc_flow_pre;
/* Glow's learned prior (Kingma & Dhariwal 2018, their code's split prior and learned top):
 * none, or conv — each factored-out piece z ~ N(μ, diag e^{2·logs}) with (μ, logs) from a
 * zero-initialised 3×3 convolution of the half that stays in the flow, and the final piece
 * with a learned (μ, logs) per channel (what a convolution of zeros reduces to: its bias).
 * Zero-initialised, it starts as the standard Gaussian. Gaussian prior only. */
typedef enum genc_flow_prior_net { GENC_PRIOR_NET_NONE = 0, GENC_PRIOR_NET_CONV } genc_flow_prior_net;

const char *genc_flow_arch_name(genc_flow_arch a);
int genc_flow_arch_parse(const char *s, genc_flow_arch *a);
const char *genc_flow_prior_name(genc_flow_prior p);
int genc_flow_prior_parse(const char *s, genc_flow_prior *p);
const char *genc_flow_coupling_name(genc_flow_coupling k);
int genc_flow_coupling_parse(const char *s, genc_flow_coupling *k);
const char *genc_flow_pre_name(genc_flow_pre p);
int genc_flow_pre_parse(const char *s, genc_flow_pre *p);
const char *genc_flow_prior_net_name(genc_flow_prior_net p);
int genc_flow_prior_net_parse(const char *s, genc_flow_prior_net *p);

/* The model and its data. data is "toy:NAME", "fashion-mnist" or the path of an IDX file. */
typedef struct genc_flow_config {
    genc_flow_arch arch;
    genc_flow_coupling coupling;
    genc_flow_prior prior;
    genc_flow_pre pre;
    genc_flow_prior_net prior_net;  /* conv for Glow on images, else none; absent in a
                                       checkpoint's config (older runs): none */
    float logit_alpha;        /* GENC_PRE_LOGIT: 0.05 */
    int depth;                /* couplings (NICE, RealNVP stages) or steps (Glow) per level */
    int levels;               /* multi-scale levels (images; NICE and 2D: 1) */
    int width;                /* hidden channels / units of the coupling networks */
    int hidden;               /* hidden layers of an MLP coupling network (≥ 1) */
    int C, H, W;              /* data shape: 2, 1, 1 for the 2D toys */
    int toy;                  /* -1: images; else a genc_toy */
    float scale_bound;        /* affine couplings: s = a·tanh(raw), a initialised to this */
    char data[512];
} genc_flow_config;

/* Unset fields (depth, levels, width, hidden, scale_bound ≤ 0; coupling, prior, pre, prior_net < 0) get
 * the architecture's defaults for the data shape already in cfg (C, H, W, toy). */
void genc_flow_config_resolve(genc_flow_config *cfg);
/* Everything unset, for an architecture (then set data, shape and overrides, and resolve). */
void genc_flow_config_unset(genc_flow_config *cfg, genc_flow_arch arch);
/* GENC_ERR naming the field: sizes in range, H and W divisible by 2^levels for the squeezes,
 * enough channels for every split, the parameter count bounded. */
int genc_flow_config_validate(const genc_flow_config *cfg);
char *genc_flow_config_to_json(const genc_flow_config *cfg);
int genc_flow_config_from_json(const char *json, genc_flow_config *cfg);

typedef enum genc_flow_layer_kind {
    GENC_FL_ACTNORM = 0,      /* y = (x + bias[c])·exp(logs[c]); log-det H·W·Σ logs */
    GENC_FL_INVCONV,          /* y = W x per pixel, W = P·L·(U + diag(sign·exp(log_s))); H·W·Σ log_s */
    GENC_FL_COUPLING_CH,      /* channel mask: one half of the channels conditions the other */
    GENC_FL_COUPLING_CB,      /* checkerboard mask over pixels */
    GENC_FL_SCALE,            /* NICE's diagonal scaling y = exp(s)·x, s[C·H·W]; log-det Σ s */
    GENC_FL_SQUEEZE,          /* [C, H, W] → [4C, H/2, W/2] (genc_space_to_depth) */
    GENC_FL_SPLIT,            /* factor out the last C/2 channels into the latent; with the
                                 learned prior, p0 [2·⌊C/2⌋, C − C/2, 3, 3] and p1 [2·⌊C/2⌋]
                                 are its conv */
    GENC_FL_FLATTEN,          /* [C, H, W] → [C·H·W, 1, 1] (a view) */
} genc_flow_layer_kind;

typedef struct genc_flow_layer {
    genc_flow_layer_kind kind;
    int C, H, W;              /* input shape */
    int parity;               /* couplings: which half / checkerboard colour is transformed */
    int affine;               /* couplings: affine (1) or additive (0) */
    int mlp;                  /* couplings: an MLP on [B, C] (1) or a CNN (0) */
    int n_net;                /* coupling network layers */
    genc_linear_m net[16];    /* MLP: linear layers; CNN: conv weights in .W [O, I, k, k], .b */
    genc_tensor *a;           /* affine: the bound of s per transformed channel */
    genc_tensor *p0, *p1, *p2; /* actnorm: bias, logs; invconv: lower, upper, log_s; scale: s */
    genc_tensor *perm, *sign; /* invconv: fixed permutation matrix [C, C] and signs [C] */
    int64_t zoff;             /* SPLIT: where its piece starts in an example's latent */
} genc_flow_layer;

#define GENC_FLOW_MAX_LAYERS 512

typedef struct genc_flow {
    genc_flow_config cfg;
    genc_params params;
    genc_flow_layer *layers;
    int n_layers;
    int64_t D;                /* dimensions of x (= of z) */
    int64_t zoff_final;       /* where the last piece starts in an example's latent */
    int Cz, Hz, Wz;           /* shape of the last piece */
    genc_tensor *top;         /* learned prior: the last piece's (μ, logs) per channel [2·Cz] */
    int actnorm_pending;      /* 1 until the first training batch has initialised the ActNorms
                                 (and NICE's scaling: docs/flows.md) */
} genc_flow;

/* Build the architecture of cfg and initialise it from seed (coupling nets' last layers are
 * zero, so a new flow is the identity up to ActNorm and the 1×1 convolutions' rotations). */
int genc_flow_init(genc_flow *f, const genc_flow_config *cfg, uint64_t seed);
void genc_flow_free(genc_flow *f);
/* The parameter count genc_flow_init registers, without allocating (from a validated cfg). */
int64_t genc_flow_param_count(const genc_flow_config *cfg);

/* One layer forward: x → y, adding its log-det per example into logdet[B] (a tensor that is
 * replaced; NULL on entry means 0). SPLIT returns the kept half and puts the factored one in
 * *out_z. On a tape, everything is differentiable. */
genc_tensor *genc_flow_layer_forward(genc_ctx *c, genc_flow *f, int i, genc_tensor *x, genc_tensor **logdet,
                                     genc_tensor **out_z);
/* One layer inverse: y → x (no grad needed). SPLIT takes the factored piece z. */
genc_tensor *genc_flow_layer_inverse(genc_ctx *c, genc_flow *f, int i, genc_tensor *y, genc_tensor *z);

/* log p(x) per example [B] of x[B, C, H, W] in the flow's input space (after preprocessing):
 * prior of every latent piece plus every log-det. z (may be NULL) receives the flat latent
 * [B·D]: each piece standardised by its prior, ε = (z − μ)·e^{−logs} (the piece itself
 * without a learned prior), so that the latent is always N(0, I) under the model and
 * log p(x) = log N(ε; 0, I) + log|det ∂ε/∂x|. With actnorm_pending set, each ActNorm (and
 * scaling) is initialised from its input first, then the flag is cleared. */
genc_tensor *genc_flow_log_prob(genc_ctx *c, genc_flow *f, genc_tensor *x, float *z);
/* The inverse of the whole flow: the standardised latent z[B·D] (as genc_flow_log_prob
 * writes it) → x[B, C, H, W] in the flow's input space; with a learned prior each piece is
 * μ + e^{logs}·ε, its (μ, logs) from the part of x already decoded. */
genc_tensor *genc_flow_inverse(genc_ctx *c, genc_flow *f, const float *z, int B);
/* Prior log-density summed per example: x[B, ...] → [B]. */
genc_tensor *genc_flow_prior_logp(genc_ctx *c, genc_flow_prior p, genc_tensor *x);
/* Draw n standardised latent values with standard deviation scaled by temperature (decoded by
 * genc_flow_inverse, a learned prior then gives pieces μ + T·e^{logs}·ε). */
void genc_flow_prior_sample(genc_flow_prior p, genc_rng *r, float temperature, float *z, int64_t n);

/* ---------------------------------------------------------------- data space ↔ flow space
 * Pixels v ∈ {0..255} with noise u ∈ [0, 1) → x = (v + u)/256 → the flow input y = pre(x).
 * Returns per example log|det ∂y/∂v| = Σ log|pre'(x)| − D·ln 256 (nats), so that
 * log p(v + u) = log p_flow(y) + that. For 2D data y = v and the term is 0. */
void genc_flow_preprocess(const genc_flow_config *cfg, const float *pix, const float *u, int B, float *y,
                          double *logjac);
/* The inverse into pixel values: floor((pre⁻¹(y))·256) clamped to 0..255, as floats. */
void genc_flow_postprocess(const genc_flow_config *cfg, const float *y, int64_t n, float *pix);

/* ---------------------------------------------------------------- training, evaluation */
typedef struct genc_flow_eval_result {
    double nll;               /* nats per example (images: of the 8-bit data) */
    double bpd;               /* bits per dimension (images) */
    double entropy;           /* 2D: the true entropy of the toy (NAN when unknown) */
    int64_t n;                /* test examples */
    int64_t dims;
} genc_flow_eval_result;

int genc_flow_train(const genc_flow_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                    genc_train_result *res);
/* A trained flow from an opened checkpoint (EMA weights when present, *used_ema set). */
int genc_flow_from_file(const genc_st_file *file, genc_flow *f, int *used_ema);
/* Test NLL: images over the first max_n (0: all) test images, each dequantised once with
 * noise from seed; 2D over n_toy fresh points from seed. */
int genc_flow_evaluate(genc_flow *f, int64_t max_n, uint64_t seed, genc_flow_eval_result *r);
/* Log-density on an nx×ny grid over [lo, hi]² (2D flows): out[j·nx + i]. */
int genc_flow_density_grid(genc_flow *f, double lo, double hi, int nx, int ny, double *out);

#ifdef __cplusplus
}
#endif
#endif
