/* genc diffusion: continuous diffusion and flow matching in one framework.
 *
 * Every forward process is written once as x = α·x0 + β·ε (ε ~ N(0, I)): a signal coefficient
 * α and a noise coefficient β, whose ratio σ = β/α is the noise level of the EDM view
 * (Karras et al. 2022: x = s·(x0 + σ·ε) with s = α). Two pairs on the same ray (α, β) and
 * (kα, kβ) describe the same noisy data up to the factor k, so the one shared object is the
 * denoiser
 *     D(x; α, β) ≈ E[x0 | α·x0 + β·ε = x],
 * and a sampler may put its state in whatever normalisation suits it: x̂ = x/α with α = 1
 * (σ-space: Euler, Heun, Euler-ancestral), α² + β² = 1 (variance preserving: DDPM, DDIM,
 * DPM-Solver++), or α + β = 1 (the flow-matching path: flow-euler, flow-heun, where t = β and
 * t = 1 is pure noise, α = 0).
 *
 * A published model is a process (how training draws (α, β)), a parameterisation (what the
 * network outputs) and a loss weight; the model wrapper turns its network into a denoiser
 * for any (α, β). Details and command lines: docs/diffusion.md. */
#ifndef GENC_DIFFUSION_H
#define GENC_DIFFUSION_H

#include "genc/core.h"
#include "genc/data.h"
#include "genc/nn.h"
#include "genc/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- processes (process.c) */
typedef enum genc_dproc {
    GENC_DPROC_DDPM_LINEAR = 0, /* DDPM: β_i linear 1e-4 … 0.02, T = 1000 discrete steps */
    GENC_DPROC_DDPM_COSINE,     /* improved DDPM: ᾱ(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008 */
    GENC_DPROC_VP,              /* score SDE VP: σ(t) = √(exp(½β_d t² + β_min t) − 1), t ∈ [0, 1] */
    GENC_DPROC_VE,              /* VE: σ(t) = √t, σ ∈ [0.02, 100]; α = 1 */
    GENC_DPROC_EDM,             /* EDM: α = 1, σ itself is the time */
    GENC_DPROC_FLOW,            /* flow matching / rectified flow: x = (1 − t)·x0 + t·ε */
    GENC_DPROC_COUNT,
} genc_dproc;

#define GENC_DDPM_MAX_T 4096

typedef struct genc_process {
    genc_dproc kind;
    int T;                          /* DDPM steps (1000) */
    double beta_min, beta_d;        /* VP: 0.1, 19.9 */
    double sigma_min, sigma_max;    /* range of σ the process covers (VE 0.02..100, EDM 0.002..80) */
    double p_mean, p_std;           /* EDM training: ln σ ~ N(p_mean, p_std²), −1.2, 1.2 */
    double t_eps;                   /* VP: smallest training t (1e-5) */
    double abar[GENC_DDPM_MAX_T];   /* DDPM: ᾱ_i for i = 0 .. T−1 */
} genc_process;

const char *genc_dproc_name(genc_dproc k);        /* "ddpm-linear", ..., "flow" */
int genc_dproc_parse(const char *s, genc_dproc *k);
/* The published defaults of kind (T = 1000 for DDPM). GENC_ERR for a bad kind or T. */
int genc_process_init(genc_process *p, genc_dproc kind, int T);
/* DDPM ᾱ tables of the published formulas (T ≤ GENC_DDPM_MAX_T):
 *   linear: β_i = 1e-4 + (0.02 − 1e-4)·i/(T − 1), ᾱ_i = Π_{j ≤ i} (1 − β_j)
 *   cosine: f(u) = cos²((u/T + 0.008)/1.008·π/2), β_i = min(1 − f(i+1)/f(i), 0.999),
 *           ᾱ_i = Π_{j ≤ i} (1 − β_j)   (Nichol & Dhariwal 2021, eq. 17) */
void genc_ddpm_abar(genc_dproc kind, int T, double *abar);
/* σ of the process at its own time t (DDPM: the step index, fractional steps interpolate
 * log σ linearly; VP, flow: t ∈ [0, 1]; VE: t = σ²; EDM: t = σ). */
double genc_process_sigma(const genc_process *p, double t);
/* The inverse: the process time whose σ is sigma (clamped to the process's range). */
double genc_process_time(const genc_process *p, double sigma);
/* The process's own (α, β) at time t: DDPM/VP (√ᾱ, √(1 − ᾱ)), VE/EDM (1, σ), flow (1 − t, t). */
void genc_process_coefs(const genc_process *p, double t, double *alpha, double *beta);
/* The number the network's time embedding sees at time t: the DDPM step index; 1000·t for VP
 * and flow; 250·ln σ for VE and EDM (EDM's c_noise = ¼ ln σ, scaled to the same range as a
 * step index so one sinusoidal embedding serves every process). */
double genc_process_cnoise(const genc_process *p, double t);
/* A training time drawn with r: DDPM t ~ U{0..T−1}; VP t ~ U[t_eps, 1]; VE ln σ ~ U[ln 0.02,
 * ln 100]; EDM ln σ ~ N(−1.2, 1.2²); flow t = sigmoid(n), n ~ N(0, 1) (logit-normal). */
double genc_process_draw_t(const genc_process *p, genc_rng *r);

/* ---------------------------------------------------------------- parameterisations (param.c)
 * What the network F outputs at the point x = α·x0 + β·ε, and how it maps to the denoised
 * x0. r = √(α² + β²); for EDM σ = β/α, c_skip, c_out, c_in are written with α and β so they
 * stay finite at α = 0:
 *   eps       F = ε                      x0 = (x − β·F)/α           (DDPM, Ho et al. 2020)
 *   x0        F = x0                     x0 = F
 *   v         F = (α·ε − β·x0)/r         x0 = (α·x − β·r·F)/r²     (Salimans & Ho 2022)
 *   velocity  F = ε − x0                 x0 = (x − β·F)/(α + β)    (flow matching; on its path
 *                                                                   α + β = 1)
 *   edm       F = (x0 − c_skip·x̂)/c_out, D = c_skip·x̂ + c_out·F(c_in·x̂), x̂ = x/α, with
 *             c_skip = σd²/(σ² + σd²), c_out = σ·σd/√(σ² + σd²), c_in = 1/√(σ² + σd²)
 *             (Karras et al. 2022, Table 1) */
typedef enum genc_dpred {
    GENC_DPRED_EPS = 0,
    GENC_DPRED_X0,
    GENC_DPRED_V,
    GENC_DPRED_VELOCITY,
    GENC_DPRED_EDM,
    GENC_DPRED_COUNT,
} genc_dpred;

const char *genc_dpred_name(genc_dpred k);
int genc_dpred_parse(const char *s, genc_dpred *k);
/* The factor the network input is multiplied by: c_in·(1/α) = 1/√(β² + α²σd²) for edm, 1 for
 * the others (they see x as it is). */
double genc_dpred_in_scale(genc_dpred k, double alpha, double beta, double sigma_data);
/* x0[n] from the network output f[n] at the point x[n]. */
void genc_dpred_to_x0(genc_dpred k, const float *f, const float *x, double alpha, double beta,
                      double sigma_data, int64_t n, float *x0);
/* The map to x0 is affine: x0 = cx·x + cf·F. */
void genc_dpred_x0_coefs(genc_dpred k, double alpha, double beta, double sigma_data, double *cx, double *cf);
/* The training target F[n] from the clean data x0[n] and the noise eps[n]. */
void genc_dpred_target(genc_dpred k, const float *x0, const float *eps, double alpha, double beta,
                       double sigma_data, int64_t n, float *f);
/* One parameterisation's output into another's at the same point: through x0 and
 * ε = (x − α·x0)/β (β > 0). */
void genc_dpred_convert(genc_dpred from, genc_dpred to, const float *f, const float *x, double alpha,
                        double beta, double sigma_data, int64_t n, float *out);
/* The loss weight in x0 space that the unweighted loss ‖F − F_target‖² amounts to: the
 * squared factor by which an error in F moves x0 (eps: β²/α², x0: 1, v: β²/r², velocity:
 * β²/(α + β)², edm: c_out² — whose inverse is EDM's λ(σ) = (σ² + σd²)/(σ·σd)²). */
double genc_dpred_x0_weight(genc_dpred k, double alpha, double beta, double sigma_data);

/* ---------------------------------------------------------------- denoisers and samplers
 * A denoiser: fills x0[n·dim] with D(x; α, β) for n points x[n·dim]. GENC_ERR on failure. */
typedef struct genc_denoiser {
    int (*fn)(void *self, const float *x, int64_t n, int dim, double alpha, double beta, float *x0);
    void *self;
} genc_denoiser;

/* The ideal denoiser of isotropic Gaussian-mixture data x0 ~ Σ_k w_k N(μ_k, s_k² I): the
 * posterior mean Σ_k r_k(x)·(μ_k + α s_k²/(α² s_k² + β²)·(x − α μ_k)) with responsibilities
 * r_k ∝ w_k N(x; α μ_k, (α² s_k² + β²) I). A test reference needing no network. (gmm.c) */
typedef struct genc_gmm {
    int K, dim;
    const double *w, *mu, *s;   /* [K], [K·dim], [K] */
} genc_gmm;
int genc_gmm_denoise(void *gmm, const float *x, int64_t n, int dim, double alpha, double beta, float *x0);
/* n samples from the mixture with r. */
void genc_gmm_sample(const genc_gmm *g, genc_rng *r, int64_t n, float *x);

/* Sampling grids (schedule.c): how the N steps are spaced. */
typedef enum genc_dgrid {
    GENC_GRID_DEFAULT = 0,  /* the process's own: DDPM trailing, VP t = 1 … 1e-3, VE geometric
                               σ 100 … 0.02, EDM karras; flow: t = 1 … 0 for flow samplers,
                               karras for the others */
    GENC_GRID_KARRAS,       /* σ_i = (σmax^(1/ρ) + i/(N−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, ρ = 7 */
    GENC_GRID_TRAILING,     /* DDPM steps round(T − i·T/N) − 1: the first is T − 1 */
    GENC_GRID_LEADING,      /* DDPM steps (N − 1 − i)·⌊T/N⌋: never T − 1 */
    GENC_GRID_LINSPACE,     /* DDPM steps round(linspace(T − 1, 0, N)); continuous processes:
                               uniform in t from t_max to t_min */
    GENC_GRID_COUNT,
} genc_dgrid;

const char *genc_dgrid_name(genc_dgrid g);
int genc_dgrid_parse(const char *s, genc_dgrid *g);
/* Karras et al. 2022 eq. 5: sig[0..N−1] from smax down to smin (N ≥ 2), then sig[N] = 0. */
void genc_karras_sigmas(int N, double smin, double smax, double rho, double *sig);
/* DDPM step indices of a spacing (trailing, leading, linspace) for N of T steps, decreasing. */
int genc_ddpm_timesteps(genc_dgrid g, int T, int N, int *ts);
/* Flow-matching time shift t' = s·t/(1 + (s − 1)·t) (SD3, Esser et al. 2024). */
double genc_flow_shift(double t, double shift);

/* The noise levels of an N-step run: sig[0] > … > sig[N−1] > sig[N] = 0 (sig[0] may be +∞:
 * the flow path's t = 1). flow_sampler picks the flow grid for the flow process's default;
 * shift (1: none) bends flow grids. GENC_ERR naming what does not apply (leading/trailing on a
 * continuous process, N out of range). */
int genc_sample_sigmas(const genc_process *p, genc_dgrid g, int N, int flow_sampler, double shift,
                       double *sig);

/* ---------------------------------------------------------------- samplers (sample.c) */
typedef enum genc_sampler_kind {
    GENC_DS_DDPM = 0,  /* ancestral: the posterior q(x_prev | x, x0̂), fixed-small variance
                               β̃ = (1 − ᾱ_prev)/(1 − ᾱ)·(1 − ᾱ/ᾱ_prev), or fixed-large β */
    GENC_DS_DDIM,      /* DDIM with η: σ_t = η·√((1 − ᾱ_prev)/(1 − ᾱ))·√(1 − ᾱ/ᾱ_prev) */
    GENC_DS_EULER,     /* PF-ODE dx̂/dσ = (x̂ − D)/σ, first order */
    GENC_DS_EULER_A,   /* Euler to σ_down plus fresh noise σ_up (k-diffusion) */
    GENC_DS_HEUN,      /* EDM Algorithm 2: second order, optional churn */
    GENC_DS_DPMPP_2M,  /* DPM-Solver++(2M), Lu et al. 2022: second order multistep */
    GENC_DS_FLOW_EULER,/* Euler on dx/dt = ε̂ − x̂0 on the flow path x = (1−t)·x0 + t·ε */
    GENC_DS_FLOW_HEUN, /* Heun (trapezoid) on the same ODE; the last step is Euler */
    GENC_DS_COUNT,
} genc_sampler_kind;

const char *genc_diffusion_sampler_name(genc_sampler_kind k);
int genc_diffusion_sampler_parse(const char *s, genc_sampler_kind *k);
int genc_sampler_is_deterministic(genc_sampler_kind k, double eta, double churn);

typedef struct genc_sampler_opts {
    genc_sampler_kind kind;
    double eta;                 /* ddim (0: deterministic) */
    int large_variance;         /* ddpm: β instead of β̃ */
    double s_churn, s_tmin, s_tmax, s_noise;  /* heun: 0, 0, ∞, 1 (EDM's defaults) */
} genc_sampler_opts;

void genc_sampler_opts_default(genc_sampler_opts *o, genc_sampler_kind k);

/* Run the sampler over sig[0..N] (genc_sample_sigmas) on n points of dimension dim. x holds the
 * initial noise ε ~ N(0, I) on entry and the samples on exit; fresh noise (ancestral
 * samplers, churn) comes from r: n·dim normals before each step that takes noise
 * (genc_sampler_step_noisy), in step order. GENC_ERR when the denoiser fails or the grid does
 * not suit the sampler (an infinite sig[0] for a σ-space sampler). */
int genc_sample(const genc_sampler_opts *o, const genc_denoiser *d, const double *sig, int N, float *x,
                int64_t n, int dim, genc_rng *r);

/* Whether step i (sig[i] → sig[i+1]) of an N-step run adds fresh noise: ddpm into σ' > 0,
 * ddim with η > 0 into σ' > 0, euler-a when σ_up > 0, heun when churn applies at sig[i]. */
int genc_sampler_step_noisy(const genc_sampler_opts *o, const double *sig, int N, int i);

/* One step i of an N-step run, exactly as genc_sample takes it: x[n·dim] in the sampler's
 * normalisation at sig[i] (x̂ = x/α for euler, euler-a, heun; variance preserving for ddpm,
 * ddim; the flow path for flow-*) becomes the state at sig[i+1]. z[n·dim] is the step's unit
 * noise, read when genc_sampler_step_noisy (may be NULL otherwise). dpmpp-2m, being multistep,
 * is refused, as are i outside 0..N−1 and a missing z. */
int genc_sampler_step(const genc_sampler_opts *o, const genc_denoiser *d, const double *sig, int N, int i,
                      float *x, int64_t n, int dim, const float *z);

/* ---------------------------------------------------------------- likelihood (likelihood.c)
 * The probability-flow ODE dx̂/dσ = (x̂ − D(x̂; σ))/σ carries data at σmin to N(0, σmax²·I) at
 * σmax (approximately: the data's own spread is ignored there), and the log-density changes
 * by the divergence of its right-hand side (Chen et al. 2018; Song et al. 2021, eq. 39):
 *   log p_σmin(x̂(σmin)) = log N(x̂(σmax); 0, σmax²) + ∫ (dim − tr ∂D/∂x̂)/σ dσ.
 * Integrated in u = ln σ by classical RK4. The divergence comes from a genc_div_fn: exactly,
 * or as a Hutchinson estimate εᵀ(∂D/∂x̂)ε with Gaussian probes (Hutchinson 1989), fixed along
 * one trajectory (FFJORD, Grathwohl et al. 2019). */
typedef struct genc_div_fn {
    /* x0[n·dim] = D(x; 1, sigma), and tr[n] = tr ∂D/∂x (probe NULL) or probeᵀ (∂D/∂x) probe
     * (probe [n·dim]) for each point. */
    int (*fn)(void *self, const float *x, int64_t n, int dim, double sigma, const float *probe, float *x0,
              double *tr);
    void *self;
} genc_div_fn;

typedef struct genc_nll_opts {
    double sigma_min, sigma_max;
    int steps;                  /* RK4 steps in ln σ */
    int hutchinson;             /* 0: exact divergence; 1: one Gaussian probe per point */
} genc_nll_opts;

/* nll[n] = −log p_σmin(x) in nats for the points x[n·dim] (already at σmin: the data plus
 * N(0, σmin²) noise in principle; the caller adds it or accepts the bias). probe noise from r. */
int genc_pf_nll(const genc_div_fn *d, const genc_nll_opts *o, const float *x, int64_t n, int dim,
                genc_rng *r, double *nll);
/* The exact divergence of the Gaussian-mixture denoiser for K = 1 (a Gaussian): the reference
 * of the likelihood test. Mixtures with K > 1 are refused. */
int genc_gmm_div(void *gmm, const float *x, int64_t n, int dim, double sigma, const float *probe, float *x0,
                 double *tr);


/* ---------------------------------------------------------------- models (model.c, net_*.c)
 * A model = a process + a parameterisation + a network F(c_in·x, c_noise, class):
 *   mlp   points (or any flattened example): h = W_in x + e; h += W_i SiLU(h + e) per layer;
 *         F = W_out SiLU(h), e the time (and class) embedding          (2D toys)
 *   unet  two resolution levels of residual blocks (GroupNorm, SiLU, 3×3 convs, the time
 *         embedding added per channel), self-attention at the lowest resolution, skip
 *         concatenations (a small DDPM U-Net, Ho et al. 2020)          (images, H and W % 4 = 0)
 *   dit   patches → linear → transformer blocks with adaLN-Zero conditioning on the time
 *         (and class) embedding and learned 2D positions → linear → unpatchify (Peebles & Xie)
 * Class conditioning adds a learned class embedding to the time embedding; class n_classes is
 * the null class that label dropout trains for classifier-free guidance. */
typedef enum genc_dnet { GENC_DNET_MLP = 0, GENC_DNET_UNET, GENC_DNET_DIT, GENC_DNET_COUNT } genc_dnet;

const char *genc_dnet_name(genc_dnet k);
int genc_dnet_parse(const char *s, genc_dnet *k);

typedef struct genc_dm_config {
    genc_dproc process;
    int T;                      /* DDPM steps */
    genc_dpred pred;
    genc_dnet net;
    int channels, height, width;/* one example; 2D points are 2 × 1 × 1 */
    int hidden;                 /* mlp width, unet base channels, dit width */
    int layers;                 /* mlp residual layers, dit blocks (unet: two levels, fixed) */
    int heads;                  /* attention heads (unet lowest level, dit) */
    int patch;                  /* dit patch side */
    int groups;                 /* unet GroupNorm groups */
    int n_classes;              /* 0: unconditional */
    float sigma_data;           /* EDM's σd: the data's standard deviation */
} genc_dm_config;

/* Published defaults per net: the process's usual parameterisation (DDPM/VP eps, VE/EDM edm,
 * flow velocity) is set by the caller; mlp width 128, 3 layers; unet 32 channels, 8 groups,
 * 4 heads; dit width 128, 4 blocks, 4 heads, patch 4. σd 0.5. */
void genc_dm_config_default(genc_dm_config *c, genc_dnet net, int channels, int height, int width);
genc_dpred genc_dproc_default_pred(genc_dproc k);
/* Bounds every field (untrusted checkpoints) and the parameter count. */
int genc_dm_config_validate(const genc_dm_config *c);
int64_t genc_dm_param_count(const genc_dm_config *c);
char *genc_dm_config_to_json(const genc_dm_config *c);     /* caller frees */
int genc_dm_config_from_json(const char *json, genc_dm_config *c);

typedef struct genc_dm_res {           /* unet residual block */
    genc_tensor *gn1w, *gn1b, *gn2w, *gn2b, *c1w, *c1b, *c2w, *c2b, *skw, *skb;
    genc_linear_m temb;
} genc_dm_res;

typedef struct genc_dmodel {
    genc_dm_config cfg;
    genc_process proc;
    genc_params params;
    genc_time_embed_m time;
    genc_tensor *class_emb;            /* [n_classes + 1, embed] */
    /* mlp */
    genc_linear_m in, out, *hid;
    /* unet */
    genc_tensor *conv_in_w, *conv_in_b, *conv_out_w, *conv_out_b, *gn_out_w, *gn_out_b;
    genc_tensor *up1_w, *up1_b, *up0_w, *up0_b;
    genc_dm_res down0, down1, mid0, mid1, up1, up0;
    genc_tensor *attn_gn_w, *attn_gn_b;
    genc_linear_m aq, ak, av, ao;
    /* dit */
    genc_transformer tf;
    genc_linear_m patch_in, patch_out;
} genc_dmodel;

/* Builds and initialises from seed; GENC_ERR (m freed) on a bad config or out of memory. */
int genc_dmodel_init(genc_dmodel *m, const genc_dm_config *cfg, uint64_t seed);
void genc_dmodel_free(genc_dmodel *m);
/* F = net(x, c_noise, labels): x [B, C, H, W] (points: [B, D]) as the network sees it (already
 * multiplied by c_in), cnoise[B], labels[B] in 0..n_classes (n_classes: the null class) or
 * NULL (all null). Output shaped like x. */
genc_tensor *genc_dmodel_net(genc_ctx *c, genc_dmodel *m, genc_tensor *x, const float *cnoise, const int32_t *labels);
/* The training loss of a batch x0[B·dim] (labels may be NULL): per example a process time,
 * noise, the point x = α x0 + β ε and mean ‖F − F_target‖². Labels are replaced by the null
 * class with probability label_dropout. Noise from r. */
genc_tensor *genc_dmodel_loss(genc_ctx *c, genc_dmodel *m, const float *x0, const int32_t *labels, int B,
                              float label_dropout, genc_rng *r);

/* The model as a denoiser for any (α, β) (genc_denoiser.fn / genc_div_fn.fn with this self):
 * the point is moved to the process's own ray, x_P = k·x with k = (α_P + β_P)/(α + β), the
 * network runs at the process time of σ = β/α, and its output becomes x0. With classes: cfg
 * scale w gives F = F(∅) + w·(F(class) − F(∅)) (Ho & Salimans 2022); labels NULL or w = 0:
 * the null class alone. Batches of at most max_batch run at a time on c. */
typedef struct genc_dm_denoiser {
    genc_dmodel *m;
    genc_ctx *c;
    const int32_t *labels;      /* [n] or NULL */
    float cfg;                  /* guidance scale (1: the conditional model alone) */
    int max_batch;
    float clip;                 /* > 0: the estimate x0 clamped to [−clip, clip] (sampling image
                                   models, whose data lie in [−1, 1]); 0: not clamped */
} genc_dm_denoiser;

int genc_dm_denoise(void *self, const float *x, int64_t n, int dim, double alpha, double beta, float *x0);
/* Divergence by backpropagation: exact (one backward pass per dimension; points) or
 * Hutchinson (one pass with the probe). */
int genc_dm_div(void *self, const float *x, int64_t n, int dim, double sigma, const float *probe, float *x0,
                double *tr);

/* ---------------------------------------------------------------- training (train.c)
 * Data: "toy:NAME" (a 2D toy of data.h, fresh points every batch), "fashion-mnist", or an
 * IDX images file (pixels scaled to [−1, 1]). */
typedef struct genc_dm_train_cfg {
    genc_train_cfg common;
    char data[1024];
    float label_dropout;        /* class-conditional models: P(label → null class) */
} genc_dm_train_cfg;

void genc_dm_train_cfg_default(genc_dm_train_cfg *t);
/* Train a new model of cfg (its example shape and σd come from the data; n_classes > 0 asks
 * for class conditioning on the data's labels), or resume run->out_dir. */
int genc_dm_train(const genc_dm_config *cfg, const genc_dm_train_cfg *tc, const genc_run_opts *run,
                  genc_train_result *res);
/* A trained model for sampling and evaluation: config, run keys, weights (EMA when present). */
int genc_dm_load_file(const genc_st_file *f, genc_dmodel *m, genc_dm_train_cfg *tc, int *used_ema);

#ifdef __cplusplus
}
#endif
#endif
